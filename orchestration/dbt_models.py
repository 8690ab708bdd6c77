"""dbt models as Dagster assets (dagster-dbt), keyed `<schema>/<model>`.

- The manifest: `target/dagster/manifest.json` under the dbt project (the repository root, or
  env POWERCRM_DBT_PROJECT_DIR like the CLI). `ensure_manifest()` runs `dbt parse` into it when
  it is missing or older than any file of the dbt project (also under `dagster dev`), so
  `dagster definitions validate` works from a fresh clone. It is a folder of its own so that
  nobody's ad-hoc `dbt` commands in `target/` race with the definitions.
- Asset keys: models and seeds `<schema>/<name>` (`staging/stg_marketing__bills`,
  `core/dim_customer`, `marts/recovery_monthly`, `reference/voltage`); the dbt sources
  `raw.<extract>` and `meta.<table>` map to the raw step's assets `raw/<extract>` and
  `meta/<table>`, so every dbt asset sits downstream of the loader.
- Groups by layer (the schema): staging, intermediate, core, marts, audit, reference (seeds).
- dbt tests are asset checks (dagster-dbt's default); tests of severity error are blocking.
- At run time the step runs `dbt build` (seeds, models, tests) for the selected models against
  the working database, in dbt's state folder `<stem>.state/target` like `powercrm run`, and
  records the results in `meta.dbt_results` (the quality gate and `audit` read them).
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config, Failure
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from pydantic import Field

from orchestration.resources import PowerCRMResource, full_check_requested
from powercrm.pipeline import (
    BuildResult,
    NodeResult,
    dbt_project_dir,
    dbt_test_exclusion,
    dbt_threads_args,
    save_dbt_results,
)

MANIFEST_TARGET = Path("target") / "dagster"  # relative to the dbt project
LAYERS = ("staging", "intermediate", "core", "marts", "audit")
PUBLISHED_LAYERS = ("core", "marts", "audit")
# what `dbt parse` reads: a manifest older than any of these is stale
DBT_INPUTS = ("dbt_project.yml", "profiles", "models", "macros", "seeds", "data-tests", "analyses",
              "snapshots", "packages.yml", "dependencies.yml", "selectors.yml")


class ManifestError(RuntimeError):
    """dbt could not parse the project: the message says why and how to see the details."""


def dbt_executable() -> str:
    """dbt of this interpreter's environment (the venv may not be on PATH under `make dev`)."""
    here = Path(sys.executable).parent / "dbt"
    return str(here) if here.exists() else (shutil.which("dbt") or "dbt")


def _newest_input(project_dir: Path) -> float:
    newest = 0.0
    for name in DBT_INPUTS:
        p = project_dir / name
        if p.is_file():
            newest = max(newest, p.stat().st_mtime)
        elif p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                newest = max([newest, Path(root).stat().st_mtime]
                             + [(Path(root) / f).stat().st_mtime for f in files if not f.startswith(".")])
    return newest


def manifest_is_stale(project: DbtProject) -> bool:
    m = project.manifest_path
    return not m.is_file() or m.stat().st_size == 0 or m.stat().st_mtime < _newest_input(project.project_dir)


def parse_project(project: DbtProject, timeout: float = 300) -> None:
    """`dbt parse` into the project's target path; ManifestError with dbt's own error lines."""
    target = project.project_dir / project.target_path
    cmd = [dbt_executable(), "parse", "--project-dir", str(project.project_dir),
           "--profiles-dir", str(project.profiles_dir), "--target-path", str(target),
           "--log-path", str(target / "logs"), "--no-use-colors", "--log-format", "text"]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                              cwd=project.project_dir)
    except FileNotFoundError as e:
        raise ManifestError(f"cannot run dbt ({cmd[0]}) to parse {project.project_dir}: {e.strerror}; "
                            f"install the project (pip install -e .)") from e
    except subprocess.TimeoutExpired as e:
        raise ManifestError(f"`dbt parse` of {project.project_dir} took more than {timeout:.0f}s") from e
    if proc.returncode != 0 or not project.manifest_path.is_file():
        lines = [ln.strip() for ln in (proc.stdout + "\n" + proc.stderr).splitlines() if ln.strip()]
        # dbt prints "Encountered an error:" and the error on the lines after it
        first = next((i for i, ln in enumerate(lines) if "error" in ln.lower()), max(len(lines) - 6, 0))
        detail = " ".join(lines[first:first + 8])[:1500] or "no output"
        raise ManifestError(
            f"`dbt parse` of the dbt project {project.project_dir} failed (exit {proc.returncode}), so the "
            f"Dagster definitions cannot be built: {detail} -- run `{' '.join(cmd[:2])} --project-dir "
            f"{project.project_dir} --profiles-dir {project.profiles_dir} --target-path /tmp/dbt-check` "
            f"to see the details")


def ensure_manifest(project: DbtProject, force: bool = False) -> Path:
    """A manifest at `project.manifest_path` that is not older than the dbt project's files."""
    if not force and not manifest_is_stale(project):
        return project.manifest_path
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    # one parse at a time (dagster dev loads the code in several processes at once)
    with open(target / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or manifest_is_stale(project):
            parse_project(project)
    return project.manifest_path


def build_project() -> DbtProject:
    project_dir = dbt_project_dir().resolve()
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir / "profiles",
                      target_path=MANIFEST_TARGET)


class PowerCRMTranslator(DagsterDbtTranslator):
    """Keys `<schema>/<name>`; the sources `raw.*`/`meta.*` are the loader's assets; groups by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        props = dbt_resource_props
        if props["resource_type"] == "source":
            return AssetKey([props["source_name"], props["name"]])
        return AssetKey([props["schema"], props.get("alias") or props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        schema = dbt_resource_props.get("schema") or ""
        if dbt_resource_props["resource_type"] == "seed" or schema not in LAYERS:
            return "reference" if dbt_resource_props["resource_type"] == "seed" else (schema or "dbt")
        return schema


TRANSLATOR = PowerCRMTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
PROJECT = build_project()
# also under `dagster dev` (dagster-dbt's prepare_if_dev would parse on every load of every
# process): a model edit makes the manifest stale, so "Reload definitions" picks it up
ensure_manifest(PROJECT)


def published_keys(manifest_path: Path = PROJECT.manifest_path) -> list[AssetKey]:
    """The dbt assets that the analysts' file holds (schemas core, marts, audit), for the publish asset."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    keys = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed", "snapshot") and node.get("schema") in PUBLISHED_LAYERS:
            keys.add(TRANSLATOR.get_asset_key(node))
    return sorted(keys, key=lambda k: k.to_user_string())


class DbtBuildConfig(Config):
    full_refresh: bool = Field(default=False, description="dbt --full-refresh (like `powercrm rebuild`)")


@dbt_assets(manifest=PROJECT.manifest_path, project=PROJECT, dagster_dbt_translator=TRANSLATOR, name="dbt_models")
def dbt_models(context: AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource,
               powercrm: PowerCRMResource):
    files = powercrm.files
    target = files.state_dir / "target"
    args = ["build"] + (["--full-refresh"] if config.full_refresh else [])
    # whole-table tests: weekly full check only; on a night their stand-ins check tonight's rows
    args += dbt_test_exclusion(config.full_refresh or full_check_requested(context.run.tags, files))
    with powercrm.lock(f"dagster {context.run.run_id[:8]} dbt"):
        if not powercrm.work_db.is_file():
            raise Failure(f"the working database {powercrm.work_db} does not exist: materialise the raw assets first")
        (target / "run_results.json").unlink(missing_ok=True)  # never read an earlier build's results
        args += dbt_threads_args(powercrm.work_db, config.full_refresh)  # one thread for a whole build
        old = os.environ.get("POWERCRM_WORK_DB")
        os.environ["POWERCRM_WORK_DB"] = str(powercrm.work_db)  # read by profiles/profiles.yml
        try:
            invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target)
        finally:
            if old is None:
                os.environ.pop("POWERCRM_WORK_DB", None)
            else:
                os.environ["POWERCRM_WORK_DB"] = old
        yield from invocation.stream()
        nodes = _node_results(invocation.target_path / "run_results.json", invocation.manifest)
        if nodes:
            with powercrm.connect() as con:
                save_dbt_results(con, context.run.run_id, BuildResult(nodes=nodes))
    build = BuildResult(nodes=nodes)
    if build.errors:
        first = build.errors[0]
        more = f" (and {len(build.errors) - 1} more)" if len(build.errors) > 1 else ""
        raise Failure(f"dbt build failed: {first.resource_type} {first.relation or first.name} ({first.path}): "
                      f"{' '.join(first.message.split())[:400]}{more}")
    if not nodes and not invocation.is_successful():
        raise Failure(f"dbt build did not run: {invocation.get_error() or 'see the dbt logs in ' + str(target)}")
    if build.failed_tests:
        # blocking like `powercrm run` (exit 4); also the tests dagster-dbt shows as no asset check
        # (singular tests on several models)
        t = build.failed_tests[0]
        what = (f"failed on {t.failures} rows" + (f" of {t.relation}" if t.relation else "")
                if t.status == "fail" else f"could not run: {' '.join(t.message.split())[:300]}")
        more = f" (and {len(build.failed_tests) - 1} more failed test(s))" if len(build.failed_tests) > 1 else ""
        raise Failure(f"dbt test {t.name} {what}{more}: the publish is blocked")


def _node_results(run_results_path: Path, manifest: Mapping[str, Any]) -> list[NodeResult]:
    """run_results.json + manifest -> the same rows `powercrm run` writes to meta.dbt_results."""
    try:
        results = json.loads(run_results_path.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError):
        return []
    nodes = manifest.get("nodes", {})
    out = []
    for r in results:
        node = nodes.get(r["unique_id"], {})
        rtype = node.get("resource_type") or r["unique_id"].split(".")[0]
        relation = ""
        if rtype in ("model", "seed", "snapshot"):
            relation = f"{node.get('schema')}.{node.get('alias') or node.get('name')}"
        elif node.get("attached_node"):
            relation = node["attached_node"].split(".")[-1]
        severity = str((node.get("config") or {}).get("severity") or "").upper()
        out.append(NodeResult(r["unique_id"], rtype, node.get("name", r["unique_id"]), relation,
                              str(r.get("status")), r.get("failures"), (r.get("message") or "").strip(),
                              float(r.get("execution_time") or 0.0), severity,
                              node.get("original_file_path", "")))
    return out


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=PROJECT, dbt_executable=dbt_executable())
