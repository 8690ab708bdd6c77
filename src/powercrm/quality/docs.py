"""Write the check catalogue of docs/quality.md from the suites themselves.

    python -m powercrm.quality.docs docs/quality.md

replaces the text between `<!-- checks:begin -->` and `<!-- checks:end -->` with one table per
suite (check, table, severity, rule, what to do when it fails), so the page never drifts from
the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from powercrm.quality.checks import ERROR, Suite
from powercrm.quality.config import QualityConfig

BEGIN, END = "<!-- checks:begin -->", "<!-- checks:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def catalogue(suites: list[Suite]) -> str:
    out: list[str] = []
    for suite in suites:
        checks = [(ds, c) for ds in suite.datasets for c in ds.checks]
        errors = sum(1 for _, c in checks if c.severity == ERROR)
        src = f"`expectations/{suite.source.name}`" if suite.source else ""
        out.append(f"### `{suite.name}` — {len(checks)} checks ({errors} error, {len(checks) - errors} warn)\n")
        out.append(f"{suite.description}. Source: {src}.\n")
        out.append("| check | table | severity | rule | when it fails |")
        out.append("| --- | --- | --- | --- | --- |")
        for ds, c in checks:
            out.append(f"| `{c.name}` | {_cell(ds.table)} | {c.severity} | {_cell(c.description)} | "
                       f"{_cell(c.what_to_do)} |")
        out.append("")
    return "\n".join(out)


def update(path: Path, cfg: QualityConfig | None = None) -> None:
    from powercrm.quality.gate import load_suites

    suites, failures = load_suites(cfg or QualityConfig.from_env())
    if failures:
        raise SystemExit("; ".join(f["observed_value"] for f in failures))
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path}: the markers {BEGIN} and {END} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{catalogue(suites)}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    update(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/quality.md"))
