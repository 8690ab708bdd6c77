"""bench/run_bench.py's scaling summary: which runs count as the repository's project.

A bench run of a dbt project frozen as a clean git checkout of a commit (`--dbt-project <worktree>`,
so that work in progress cannot change the run) is the repository's project at that commit and
belongs in bench/results/SUMMARY.md; a folder with changes of its own, or an added memory_limit,
is a candidate and does not.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_bench", ROOT / "bench" / "run_bench.py")
run_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_bench)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def test_a_clean_checkout_is_frozen_at_its_commit_a_changed_one_is_not(tmp_path: Path) -> None:
    repo = tmp_path / "wt"
    (repo / "models").mkdir(parents=True)
    (repo / "dbt_project.yml").write_text("name: p\n")
    (repo / "models" / "m.sql").write_text("select 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "c")
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert run_bench.frozen_commit(repo) == head
    (repo / "notes.txt").write_text("not part of the dbt project\n")  # untracked, outside the project
    assert run_bench.frozen_commit(repo) == head
    (repo / "models" / "m.sql").write_text("select 2\n")  # a candidate change
    assert run_bench.frozen_commit(repo) is None
    assert run_bench.frozen_commit(repo / "models") is None  # a folder inside a checkout
    assert run_bench.frozen_commit(tmp_path / "plain") is None  # not a checkout at all


def test_only_runs_of_the_repository_project_are_summarised() -> None:
    root = str(run_bench.ROOT)
    assert not run_bench.is_candidate({})
    assert not run_bench.is_candidate({"dbt_project": {"source": root, "memory_limit": "6GB"}})
    assert not run_bench.is_candidate({"dbt_project": {"source": "/tmp/wt", "memory_limit": None, "commit": "abc"}})
    assert run_bench.is_candidate({"dbt_project": {"source": "/tmp/wt", "memory_limit": None}})
    assert run_bench.is_candidate({"dbt_project": {"source": "/tmp/wt", "memory_limit": None, "commit": None}})
    assert run_bench.is_candidate({"dbt_project": {"source": "/tmp/wt", "memory_limit": "3GB", "commit": "abc"}})
