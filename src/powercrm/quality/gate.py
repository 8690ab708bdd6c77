"""The quality gate between the dbt build and the publish step.

STUB: `powercrm run` calls `run_quality(work_db, run_id)` after `dbt build`; the quality engineer
replaces this module with the real checks (Great Expectations suites, cross-table rules,
audit.check_results). Contract:

- `work_db` is the private working DuckDB file (all schemas built); the gate may open it
  read-write (for example to write `audit.check_results`) and must close it before returning.
- `blocking`: one sentence per failed blocking check ("<check> failed on <n> rows of <table>");
  any entry stops the publish (exit status 4).
- `warnings`: checks that failed without blocking; printed in the run summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class QualityOutcome:
    blocking: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def run_quality(work_db: Path, run_id: str) -> QualityOutcome:
    """Stub: no checks yet, nothing blocks."""
    return QualityOutcome()
