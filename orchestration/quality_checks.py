"""The Great Expectations suites as asset checks on the published tables.

One check `expectations` per published area table (`marts/<table>`), all evaluated by one
step that calls the quality package once (`powercrm.quality.gate.run_quality`, imported when
the step runs) and reports each table's result: passed/failed, the failing checks and their
failing rows as metadata. Failed error-severity checks are blocking: `published/powercrm`
does not run, the previous published file stays (like `powercrm run`, exit 4).
"""


import inspect
import json
import re
from collections.abc import Iterable
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Failure,
    MetadataValue,
    multi_asset_check,
)

from orchestration.dbt_models import PROJECT, TRANSLATOR
from orchestration.resources import PowerCRMResource

CHECK_NAME = "expectations"
SUITE_LAYERS = ("marts",)
_ROWS = re.compile(r"\bon (\d+) rows?\b")


def suite_tables(manifest_path: Path = PROJECT.manifest_path) -> list[AssetKey]:
    """The tables that have a suite: the published marts."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    keys = {TRANSLATOR.get_asset_key(n) for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n.get("schema") in SUITE_LAYERS}
    return sorted(keys, key=lambda k: k.to_user_string())


def _mentions(message: str, key: AssetKey) -> bool:
    schema, table = key.path[0], key.path[-1]
    return re.search(rf"(?<![\w.]){re.escape(schema)}\.{re.escape(table)}\b|(?<![\w.]){re.escape(table)}\b",
                     message) is not None


def _rows(messages: Iterable[str]) -> int:
    return sum(int(m.group(1)) for msg in messages for m in [_ROWS.search(msg)] if m)


def _run_gate(powercrm: PowerCRMResource, run_id: str):
    from powercrm.quality.gate import run_quality  # the quality package; imported when the step runs

    kwargs = {}
    if "dbt_target_dir" in inspect.signature(run_quality).parameters:
        kwargs["dbt_target_dir"] = powercrm.files.state_dir / "target"
    return run_quality(powercrm.work_db, run_id, **kwargs)


TABLES = suite_tables()


@multi_asset_check(
    name="quality_suites",
    specs=[AssetCheckSpec(CHECK_NAME, asset=key, blocking=True,
                          description=f"The Great Expectations suite of {'.'.join(key.path)} "
                                      f"(powercrm.quality): an error-severity failure blocks the publish.")
           for key in TABLES],
    can_subset=True,
    description="Run the quality gate (Great Expectations suites, cross-table rules) on the working database.",
)
def quality_suites(context: AssetCheckExecutionContext, powercrm: PowerCRMResource):
    with powercrm.lock(f"dagster {context.run_id[:8]} quality"):
        try:
            outcome = _run_gate(powercrm, context.run_id)
        except Exception as e:  # noqa: BLE001 - the gate is another module; one sentence
            raise Failure(f"the quality checks could not run on {powercrm.work_db}: "
                          f"{type(e).__name__}: {' '.join(str(e).split())[:400]}") from e
    blocking, warnings = list(outcome.blocking), list(outcome.warnings)
    unmatched = [m for m in blocking if not any(_mentions(m, k) for k in TABLES)]
    for m in blocking:
        context.log.error(f"blocking: {m}")
    for m in warnings:
        context.log.warning(f"warning: {m}")
    selected = context.selected_asset_check_keys
    for key in TABLES:
        if AssetCheckKey(key, CHECK_NAME) not in selected:
            continue
        mine_b = [m for m in blocking if _mentions(m, key)]
        mine_w = [m for m in warnings if _mentions(m, key)]
        failed_b = mine_b + unmatched  # a cross-table rule without a table blocks every suite
        yield AssetCheckResult(
            asset_key=key, check_name=CHECK_NAME,
            passed=not failed_b and not mine_w,
            severity=AssetCheckSeverity.ERROR if failed_b else AssetCheckSeverity.WARN,
            metadata={
                "failing_rows": MetadataValue.int(_rows(mine_b + mine_w)),
                "blocking": MetadataValue.md("\n".join(f"- {m}" for m in failed_b) or "none"),
                "warnings": MetadataValue.md("\n".join(f"- {m}" for m in mine_w) or "none"),
            },
        )
