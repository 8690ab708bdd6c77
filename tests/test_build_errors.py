"""What a failed dbt build tells the operator: the node, how many more, and what to do."""

from __future__ import annotations

from powercrm.pipeline import NodeResult, build_failure_message

# the text of dbt's on_schema_change='fail' error (dbt/include/global_project/macros/
# materializations/models/incremental/on_schema_change.sql), as dbt-duckdb reports it
DRIFT = ("Compilation Error in macro check_for_schema_changes\n  The source and target schemas on this "
         "incremental model are out of sync!\n  They can be reconciled in several ways:")


def _node(name: str, message: str) -> NodeResult:
    return NodeResult(f"model.powercrm.{name}", "model", name, f"core.{name}", "error", message=message,
                      path=f"models/marts/core/{name}.sql")


def test_schema_drift_names_the_tables_and_the_command() -> None:
    text = build_failure_message([_node("fct_bill", DRIFT), _node("fct_payment", DRIFT)])
    assert text.startswith("dbt build failed: model core.fct_bill (models/marts/core/fct_bill.sql): ")
    assert "(and 1 more)" in text
    assert "The incremental tables core.fct_bill, core.fct_payment were built by an earlier version" in text
    assert "run `powercrm rebuild` once" in text


def test_other_errors_get_no_rebuild_hint() -> None:
    text = build_failure_message([_node("fct_bill", "Binder Error: column x not found")])
    assert "Binder Error: column x not found" in text
    assert "rebuild" not in text and "more" not in text


# an incremental model's pre-hook reads max(_loaded_at) of a table an earlier version built
# without the column (the text DuckDB gives, as in the build of a warehouse from before the column)
NO_STAMP = ('Runtime Error in model fct_arrears_snapshot (models/marts/core/fct_arrears_snapshot.sql)\n'
            '  Binder Error: Referenced column "_loaded_at" not found in FROM clause!\n'
            '  Candidate bindings: "snapshot_date", "bill_id"')


def test_a_table_without_the_build_stamp_gets_the_rebuild_hint() -> None:
    text = build_failure_message([_node("fct_arrears_snapshot", NO_STAMP)])
    assert "The incremental table core.fct_arrears_snapshot was built by an earlier version" in text
    assert "run `powercrm rebuild` once" in text


# a fatal DuckDB error (an INTERNAL error invalidates the database): dbt returns no results, and
# every node after the cause fails with "database has been invalidated", some before it finishes
INVALIDATED = ("FATAL Error: Failed: database has been invalidated because of a previous fatal error. "
               "The database must be restarted prior to being used again.")
INTERNAL = ("Runtime Error in model fct_arrears_snapshot (models/marts/core/fct_arrears_snapshot.sql)\n"
            "  INTERNAL Error: dict-surviving join: narrowed column 7 received a non-dictionary chunk with values")


def test_a_fatal_error_names_the_node_that_caused_it_not_its_victims() -> None:
    from pathlib import Path

    from powercrm.pipeline import fatal_build_message

    text = fatal_build_message(Path("/p"), "FATAL Error: Failed: database has been invalidated",
                               [_node("complaint_hotspot", INVALIDATED), _node("fct_arrears_snapshot", INTERNAL),
                                _node("demand_monthly", INVALIDATED)], Path("/w/logs/dbt.log"))
    assert "the first node to fail: model core.fct_arrears_snapshot: Runtime Error in model fct_arrears_snapshot" in text
    assert "INTERNAL Error: dict-surviving join" in text
    assert "complaint_hotspot" not in text and text.endswith("(log: /w/logs/dbt.log)")
    # nothing finished before dbt stopped: the reason alone
    bare = fatal_build_message(Path("/p"), "boom", [], Path("/w/logs/dbt.log"))
    assert bare == "dbt could not build the project /p: boom (log: /w/logs/dbt.log)"
