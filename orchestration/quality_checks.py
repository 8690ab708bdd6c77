"""The Great Expectations suites (`expectations/*.py`, one per published area) as asset checks.

For every suite and every published table it checks, one check `ge_<suite>` on that table's
dbt asset (`marts/recovery_monthly` → check `ge_payment`). All of them are evaluated by one step
that calls the quality gate once, `powercrm.quality.gate.run_quality(work_db, run_id)` — the
same call as `powercrm run`, so `audit.check_results` gets the same rows (the suites' checks
and this run's dbt tests from `meta.dbt_results`) — and reports each table's share of the
results: passed/failed, the failed checks, their failing rows and examples as metadata.

- A failed `error` check fails its asset check with severity ERROR; the checks are blocking,
  so `published/powercrm` does not run and the previous published file stays (CLI: exit 4).
- A failed `warn` check fails it with severity WARN (shown, nothing blocked).
- A failed `error` check that belongs to no check here (a table that is not a dbt asset of the
  published schemas, such as `meta.partitions`; a suite file that does not load) fails every
  check of its suite, or every check when its suite has none: the gate blocks, so must Dagster.
- Checks are only put on dbt assets of the published schemas: a blocking check on a raw or meta
  asset would make the dbt step wait for a check that itself waits for the marts.

The suites are read when the definitions load (the quality package imports Great Expectations
then, about 3 s); a suite file that does not load is logged and left out until it does.
"""

import json
import logging
from collections import defaultdict
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

from orchestration.dbt_models import PROJECT, PUBLISHED_LAYERS, TRANSLATOR
from orchestration.resources import PowerCRMResource, full_check_requested

log = logging.getLogger(__name__)
MAX_LISTED = 20


def check_name(suite: str) -> str:
    return f"ge_{suite}"


def _dbt_tables(manifest_path: Path) -> dict[str, AssetKey]:
    """`schema.table` -> asset key, for the dbt models and seeds of the published schemas."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    out = {}
    for n in manifest["nodes"].values():
        if n["resource_type"] in ("model", "seed", "snapshot") and n.get("schema") in PUBLISHED_LAYERS:
            out[f"{n['schema']}.{n.get('alias') or n['name']}".lower()] = TRANSLATOR.get_asset_key(n)
    return out


def suite_checks(manifest_path: Path = PROJECT.manifest_path) -> list[tuple[str, str, AssetKey, str]]:
    """(suite, table, asset key, suite description) for every published table a suite checks."""
    from powercrm.quality.config import QualityConfig
    from powercrm.quality.gate import load_suites

    tables = _dbt_tables(manifest_path)
    suites, failures = load_suites(QualityConfig.from_env())
    for f in failures:
        log.warning("quality suite left out of the Dagster checks: %s", f["observed_value"])
    out = []
    for suite in suites:
        for table in sorted({d.table.lower() for d in suite.datasets}):
            if table in tables:
                out.append((suite.name, table, tables[table], suite.description))
    return out


SUITE_CHECKS = suite_checks()
SPECS = {(suite, table): AssetCheckSpec(
    check_name(suite), asset=key, blocking=True,
    description=f"Great Expectations suite `{suite}` (expectations/{suite}.py) on {table}: {text}. "
                f"A failed error check blocks the publish.")
    for suite, table, key, text in SUITE_CHECKS}


def _md(results: list[dict]) -> str:
    if not results:
        return "none"
    lines = ["| check | table | severity | status | failing rows | observed |", "| --- | --- | --- | --- | --- | --- |"]
    for r in results[:MAX_LISTED]:
        observed = " ".join(str(r.get("observed_value") or "").split())[:120].replace("|", "/")
        lines.append(f"| {r['check_name']} | {r.get('table_name') or '-'} | {r['severity']} | {r['status']} | "
                     f"{'' if r.get('failing_rows') is None else r['failing_rows']} | {observed} |")
    if len(results) > MAX_LISTED:
        lines.append(f"| … {len(results) - MAX_LISTED} more | | | | | |")
    return "\n".join(lines)


def _examples(results: list[dict]) -> str:
    rows = [{"check": r["check_name"], "row": ex} for r in results for ex in (r.get("examples") or [])[:3]]
    return json.dumps(rows[:MAX_LISTED], ensure_ascii=False, default=str, indent=1)


def assign(results: list[dict], specs: dict[tuple[str, str], AssetCheckSpec]) -> dict[tuple[str, str], list[dict]]:
    """The gate's result rows per check (see the module doc for the rows that belong to none)."""
    by_spec: dict[tuple[str, str], list[dict]] = defaultdict(list)
    suites = {s for s, _ in specs}
    for r in results:
        if r.get("suite") == "dbt":
            continue  # dbt tests are dagster-dbt's own asset checks
        key = (r["suite"], (r.get("table_name") or "").lower())
        if key in specs:
            by_spec[key].append(r)
        elif r["status"] == "fail":
            targets = [k for k in specs if k[0] == r["suite"]] if r["suite"] in suites else list(specs)
            for k in targets:
                by_spec[k].append(r)
    return by_spec


def result_for(spec_key: tuple[str, str], spec: AssetCheckSpec, mine: list[dict]) -> AssetCheckResult:
    failed = [r for r in mine if r["status"] == "fail"]
    warned = [r for r in mine if r["status"] == "warn"]
    counts = defaultdict(int)
    for r in mine:
        counts[r["status"]] += 1
    return AssetCheckResult(
        asset_key=spec.asset_key, check_name=spec.name,
        passed=not failed and not warned,
        severity=AssetCheckSeverity.ERROR if failed else AssetCheckSeverity.WARN,
        description=(f"{len(failed)} blocking and {len(warned)} warning check(s) failed" if failed or warned
                     else f"{counts['pass']} check(s) passed"),
        metadata={
            "suite": MetadataValue.text(spec_key[0]),
            "table": MetadataValue.text(spec_key[1]),
            "checks_passed": MetadataValue.int(counts["pass"]),
            "checks_failed": MetadataValue.int(len(failed)),
            "checks_warned": MetadataValue.int(len(warned)),
            "checks_skipped": MetadataValue.int(counts["skipped"]),
            "failing_rows": MetadataValue.int(sum(r.get("failing_rows") or 0 for r in failed + warned)),
            "failed_checks": MetadataValue.md(_md(failed + warned)),
            "examples": MetadataValue.json(json.loads(_examples(failed + warned))),
        },
    )


@multi_asset_check(
    name="quality_gate",
    specs=list(SPECS.values()),
    can_subset=True,
    description="The quality gate (powercrm.quality.gate.run_quality): every Great Expectations suite of "
                "expectations/ on the working database; results also go to audit.check_results.",
)
def quality_gate(context: AssetCheckExecutionContext, powercrm: PowerCRMResource):
    from powercrm.quality.gate import run_quality  # Great Expectations: imported when the step runs

    run_id = context.op_execution_context.run_id
    with powercrm.lock(f"dagster {run_id[:8]} quality"):
        try:
            run = context.op_execution_context.run
            full = full_check_requested(run.tags, powercrm.files, run.run_config)
            outcome = run_quality(powercrm.work_db, run_id, full_check=full)
        except Exception as e:  # noqa: BLE001 - the gate is another module; one sentence
            raise Failure(f"the quality checks could not run on {powercrm.work_db}: "
                          f"{type(e).__name__}: {' '.join(str(e).split())[:400]}") from e
    context.log.info(f"quality gate scope: {getattr(outcome, 'scope', 'full')}")
    for m in outcome.blocking:
        context.log.error(f"blocking: {m}")
    for m in outcome.warnings:
        context.log.warning(f"warning: {m}")
    by_spec = assign(outcome.results, SPECS)
    selected = context.selected_asset_check_keys
    for spec_key, spec in SPECS.items():
        if AssetCheckKey(spec.asset_key, spec.name) in selected:
            yield result_for(spec_key, spec, by_spec.get(spec_key, []))
