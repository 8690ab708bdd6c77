"""The nightly build's order (pipeline.critical_path_first): dbt's two threads take the ready node
with the longest chain of work behind it, one node at a time; dependencies stay dbt's."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import networkx as nx
from dbt.graph.queue import GraphQueue

from powercrm.pipeline import critical_path_first, node_seconds


class _Manifest:
    def expect(self, node_id: str) -> SimpleNamespace:
        return SimpleNamespace(unique_id=node_id)


def _queue() -> GraphQueue:
    # a chain z1 → z2 → z3 (5 s each) beside three short leaves a, b, c (1 s each)
    graph = nx.DiGraph()
    graph.add_edges_from([("z1", "z2"), ("z2", "z3")])
    graph.add_nodes_from(["a", "b", "c"])
    return GraphQueue(graph, _Manifest(), set(graph.nodes))


WEIGHTS = {"z1": 5.0, "z2": 5.0, "z3": 5.0, "a": 1.0, "b": 1.0, "c": 1.0}


def test_dbt_own_order_is_the_shallowest_first() -> None:
    # the reason for the change: all four roots tie at depth 0, the name decides
    queue = _queue()
    assert queue.get().unique_id == "a"


def test_the_longest_chain_goes_first_and_a_node_is_taken_only_when_a_thread_is_free() -> None:
    with critical_path_first(WEIGHTS, threads=1):
        queue = _queue()
        first = queue.get()
        assert first.unique_id == "z1"
        taken: list[str] = []
        worker = threading.Thread(target=lambda: taken.append(queue.get().unique_id))
        worker.start()
        time.sleep(0.3)
        assert taken == []  # the one thread is busy with z1: nothing is handed out
        queue.mark_done("z1")  # z2 becomes ready: it goes before the leaves that waited
        worker.join(timeout=5)
        assert taken == ["z2"]
    # outside the build dbt's own order is back
    assert _queue().get().unique_id == "a"


def test_without_weights_the_longest_chain_in_nodes_goes_first() -> None:
    with critical_path_first({}, threads=2):
        queue = _queue()
        assert [queue.get().unique_id, queue.get().unique_id][0] == "z1"


def test_node_seconds_of_the_previous_build(tmp_path: Path) -> None:
    rr = tmp_path / "run_results.json"
    assert node_seconds(rr) == {}  # the first run: none
    rr.write_text(json.dumps({"results": [{"unique_id": "model.p.a", "execution_time": 2.5},
                                          {"unique_id": "test.p.t", "execution_time": None}]}), encoding="utf-8")
    assert node_seconds(rr) == {"model.p.a": 2.5, "test.p.t": 0.0}
    rr.write_text("{not json", encoding="utf-8")
    assert node_seconds(rr) == {}
