"""The independent conformance sample (../shared/conformance): the published file must hold
exactly the figures its authors computed by hand from METRICS.md, and no personal data.

Runs the real CLI (`powercrm run`) on the sample landing folder, then the sample's own
compare.py against the published file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "conformance"

pytestmark = pytest.mark.skipif(not (SHARED / "compare.py").is_file(),
                                reason="../shared/conformance is not beside the checkout (CI and dev machines have it)")


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("conformance") / "powercrm.duckdb"
    run = subprocess.run([sys.executable, "-m", "powercrm", "run", "--landing", str(SHARED / "landing"),
                          "--warehouse", str(out), "--quiet"], capture_output=True, text=True, cwd=REPO)
    # the sample holds a partition with a wrong sha256: published, with exit status 3
    assert run.returncode == 3, run.stdout[-3000:] + run.stderr[-3000:]
    assert "payment/2024-11-15" in run.stdout + run.stderr
    assert out.is_file()
    report = out.with_name("powercrm.quality.html")
    assert report.is_file() and "http://" not in report.read_text(encoding="utf-8")
    return out


def test_conformance_figures_quarantine_core_and_pii(published: Path) -> None:
    res = subprocess.run([sys.executable, str(SHARED / "compare.py"), str(published), str(SHARED / "expected"),
                          "--verbose", "10"], capture_output=True, text=True)
    lines = res.stdout.strip().splitlines()
    assert lines, res.stderr
    assert "pii_ok=yes" in res.stdout, res.stdout[-4000:]
    assert lines[-1].startswith("tables_ok=14/14 figures_mismatched=0"), res.stdout[-4000:]
    assert res.returncode == 0, res.stdout[-4000:]
