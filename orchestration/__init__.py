"""Dagster definitions of PowerCRM (thin wiring around the `powercrm` package).

Load them with `dagster dev -m orchestration.definitions` (or `-f orchestration/definitions.py`)
from the repository root; see docs/orchestration.md.
"""
