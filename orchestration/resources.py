"""The one resource every PowerCRM asset needs: where the landing folder and the warehouse are.

Paths follow the CLI (`powercrm run`) exactly, so that a Dagster run and a CLI run work on the
same files and exclude each other through the same lock:

- landing folder: env `POWERCRM_LANDING`, default `landing/`;
- published file: env `POWERCRM_WAREHOUSE`, default `warehouse/powercrm.duckdb`;
- working database: `<stem>.work.duckdb` beside the published file (`publish.WarehouseFiles`);
  dbt reads it through env `POWERCRM_WORK_DB`, which the dbt step sets for its subprocess.

Relative paths are taken relative to the repository root (where `make dev` runs).
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, Failure
from pydantic import Field

from powercrm.extracts import PROJECT_DIR
from powercrm.pipeline import DEFAULT_LANDING, DEFAULT_WAREHOUSE, LockHeld, RunLock
from powercrm.publish import WarehouseFiles


def _abs(path: str | Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_DIR / p


# a run tagged so checks every row and runs every dbt test (the weekly schedule sets it); without
# it a run is an incremental night unless nothing has been published yet
FULL_CHECK_TAG = "powercrm/full_check"


def full_check_requested(tags: dict[str, str] | None, files: WarehouseFiles, run_config: dict | None = None) -> bool:
    """A full check (every row checked, every dbt test, the published file written afresh): the run
    carries `powercrm/full_check=true`, rebuilds with dbt `full_refresh` (the dbt_models op's
    config), or nothing is published yet."""
    value = str((tags or {}).get(FULL_CHECK_TAG, "")).strip().lower()
    return value in ("true", "1", "yes", "on") or full_refresh_requested(run_config) or not files.published.exists()


def full_refresh_requested(run_config: dict | None) -> bool:
    """The run's config asks dbt_models for `full_refresh: true` (like `powercrm rebuild`)."""
    try:
        return bool(((run_config or {}).get("ops") or {}).get("dbt_models", {}).get("config", {}).get("full_refresh"))
    except AttributeError:  # a config of another shape
        return False


class PowerCRMResource(ConfigurableResource):
    """The landing folder and the warehouse files (published file, working DuckDB, lock, dbt state)."""

    landing: str = Field(description="landing folder <extract>/<YYYY-MM-DD>/ (env POWERCRM_LANDING)")
    warehouse: str = Field(description="the analysts' published DuckDB file (env POWERCRM_WAREHOUSE); "
                                       "the working database is <stem>.work.duckdb beside it")

    @classmethod
    def from_env(cls) -> "PowerCRMResource":
        return cls(
            landing=str(_abs(os.environ.get("POWERCRM_LANDING") or DEFAULT_LANDING)),
            warehouse=str(_abs(os.environ.get("POWERCRM_WAREHOUSE") or DEFAULT_WAREHOUSE)),
        )

    @property
    def landing_path(self) -> Path:
        return _abs(self.landing)

    @property
    def files(self) -> WarehouseFiles:
        return WarehouseFiles(_abs(self.warehouse))

    @property
    def work_db(self) -> Path:
        return self.files.work

    def prepare_dirs(self) -> None:
        files = self.files
        try:
            files.published.parent.mkdir(parents=True, exist_ok=True)
            files.state_dir.mkdir(exist_ok=True)
        except OSError as e:
            raise Failure(f"cannot create the warehouse directory {files.published.parent}: {e.strerror}") from e

    @contextmanager
    def lock(self, command: str) -> Iterator[None]:
        """The warehouse lock of `powercrm run`: a Dagster step and a CLI run never write at once."""
        self.prepare_dirs()
        try:
            with RunLock(self.files.lock, command):
                yield
        except LockHeld as e:
            raise Failure(str(e)) from e

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the working database (DuckDB has one writer: hold the lock when writing)."""
        try:
            con = duckdb.connect(str(self.work_db), read_only=read_only)
        except duckdb.Error as e:
            raise Failure(f"cannot open the working database {self.work_db}: {e}") from e
        try:
            yield con
        finally:
            con.close()

