"""The nightly job, its 02:00 schedule, and the sensor on the landing folder.

- `powercrm_nightly`: every asset (raw → dbt → checks → published), in process (DuckDB has
  one writer).
- `powercrm_nightly_schedule`: 02:00 Asia/Shanghai every day. Sunday's run is the weekly full
  check (tag `powercrm/full_check=true`: every row of the big facts, every dbt test, including
  those tagged `full_scan`); the other nights check only what the night changed.
- `powercrm_landing_sensor`: every 60 s, looks at the landing folder's `_manifest.json` files
  (a partition is complete only once its manifest is written). Its cursor holds one digest per
  extract over the manifests' paths, sizes and mtimes; when some digest changed it requests a
  run of the nightly job whose raw step loads only the changed extracts (`RawLoadConfig`), and
  the loader itself loads only the partitions whose manifest sha256 is new. The run key is the
  digest of the whole folder, so one state of the folder gives at most one run. While a run
  of the job is queued or running the sensor waits (the cursor does not move).

Both start STOPPED (turn them on in the UI, or set POWERCRM_DAGSTER_AUTOMATION=on).
"""

import hashlib
import json
import os
from pathlib import Path

from dagster import (
    AssetSelection,
    DagsterInvariantViolationError,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    in_process_executor,
    schedule,
    sensor,
)

from orchestration.raw_assets import RawLoadConfig
from orchestration.resources import FULL_CHECK_TAG, PowerCRMResource
from powercrm.extracts import EXTRACTS
from powercrm.ingest.loader import DATE_DIR

JOB_NAME = "powercrm_nightly"
CRON = "0 2 * * *"
TIMEZONE = "Asia/Shanghai"
FULL_CHECK_WEEKDAY = 6  # Sunday (date.weekday()): the weekly full check
CURSOR_VERSION = 1
ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
          DagsterRunStatus.STARTED]

nightly_job = define_asset_job(
    JOB_NAME,
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Load new and changed partitions, dbt build (models and tests), quality suites, publish: "
                "the same steps as `powercrm run`.",
    tags={"powercrm/warehouse": "nightly"},
)


def _automation_on() -> bool:
    return (os.environ.get("POWERCRM_DAGSTER_AUTOMATION") or "").lower() in ("on", "1", "true", "yes")


def nightly_tags(when) -> dict[str, str]:
    """The tags of the scheduled run at `when` (a date or datetime in Asia/Shanghai)."""
    tags = {"powercrm/trigger": "schedule"}
    if when.weekday() == FULL_CHECK_WEEKDAY:
        tags[FULL_CHECK_TAG] = "true"
    return tags


@schedule(
    name="powercrm_nightly_schedule",
    job=nightly_job,
    cron_schedule=CRON,
    execution_timezone=TIMEZONE,
    description="The nightly run at 02:00 Asia/Shanghai; on Sundays the weekly full check (every row, every dbt "
                "test including those tagged full_scan).",
    default_status=DefaultScheduleStatus.RUNNING if _automation_on() else DefaultScheduleStatus.STOPPED,
)
def nightly_schedule(context: ScheduleEvaluationContext):
    return RunRequest(tags=nightly_tags(context.scheduled_execution_time))


def manifest_state(landing: Path) -> dict[str, str]:
    """extract -> digest of its partitions' `_manifest.json` (relative path, size, mtime in ns)."""
    state: dict[str, str] = {}
    for extract in EXTRACTS:
        ext_dir = landing / extract
        if not ext_dir.is_dir():
            continue
        lines = []
        with os.scandir(ext_dir) as it:
            for part in it:
                if not part.is_dir() or not DATE_DIR.match(part.name):
                    continue
                try:
                    st = os.stat(os.path.join(part.path, "_manifest.json"))
                except FileNotFoundError:
                    continue  # still being written: the manifest comes last
                lines.append(f"{part.name} {st.st_size} {st.st_mtime_ns}")
        if lines:
            state[extract] = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:24]
    return state


def _read_cursor(cursor: str | None) -> dict[str, str]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        return {}
    return dict(data.get("extracts") or {})


def changed_extracts(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """Extracts with a manifest added or changed (a vanished manifest alone loads nothing)."""
    return [e for e in EXTRACTS if e in now and before.get(e) != now[e]]


@sensor(
    name="powercrm_landing_sensor",
    job=nightly_job,
    minimum_interval_seconds=60,
    description="Requests a nightly run when a partition's _manifest.json appears or changes in the landing "
                "folder; the run loads only the changed extracts.",
    default_status=DefaultSensorStatus.RUNNING if _automation_on() else DefaultSensorStatus.STOPPED,
)
def landing_sensor(context: SensorEvaluationContext, powercrm: PowerCRMResource):
    landing = powercrm.landing_path
    if not landing.is_dir():
        return SkipReason(f"the landing folder {landing} does not exist")
    before = _read_cursor(context.cursor)
    now = manifest_state(landing)
    changed = changed_extracts(before, now)
    new_cursor = json.dumps({"v": CURSOR_VERSION, "extracts": now}, sort_keys=True)
    if not changed:
        if now != before:  # only vanished manifests: remember, request nothing
            return SensorResult(skip_reason=SkipReason("no new or changed manifest"), cursor=new_cursor)
        return SkipReason("no new or changed manifest")
    if _run_in_progress(context):
        return SkipReason(f"new manifests for {', '.join(changed)}, but a {JOB_NAME} run is in progress: "
                          f"waiting for it to finish")
    everything = len(changed) == len(EXTRACTS)
    return SensorResult(
        run_requests=[RunRequest(
            run_key=hashlib.sha256(new_cursor.encode()).hexdigest()[:32],
            run_config=RunConfig(ops={"raw_extracts": RawLoadConfig(extracts=[] if everything else changed)}),
            tags={"powercrm/trigger": "landing_sensor", "powercrm/extracts": ",".join(changed)[:200]},
        )],
        cursor=new_cursor,
    )


def _run_in_progress(context: SensorEvaluationContext) -> bool:
    try:
        instance = context.instance
    except DagsterInvariantViolationError:  # evaluated without an instance (tests)
        return False
    return bool(instance.get_runs(RunsFilter(job_name=JOB_NAME, statuses=ACTIVE), limit=1))
