"""The quality report: one self-contained HTML page from `audit.check_results`.

`write_report(work_db, out_path)` shows the latest run (or `run_id`): whether it blocks, every
check with its status, failing rows, observed value, its history over the last runs (one small
coloured cell per run, oldest first) and, for a failed row-level check, up to ten failing
records (PII-free columns only: the suites never read personal columns). Inline CSS, no scripts,
no external references: the page opens anywhere, offline, and can be mailed.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path

import duckdb

HISTORY_RUNS = 14
STATUS_ORDER = {"fail": 0, "warn": 1, "skipped": 2, "pass": 3}
_SCHEME = re.compile(r"(?i)\b(https?|ftp)://")

CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Noto Sans SC","Microsoft YaHei",sans-serif;margin:24px;color:#1d2330}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 6px;border-bottom:1px solid #d9dde5;padding-bottom:4px}
.meta{color:#5b6475;margin-bottom:14px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:12px 0}
.verdict.block{background:#fde8e8;color:#9b1c1c;border:1px solid #f5b5b5}
.verdict.ok{background:#e6f6ec;color:#1e6b3a;border:1px solid #a8dcbc}
.verdict.partial{background:#eef3fb;color:#24467a;border:1px solid #b9cbe8;font-weight:400}
.counts span{display:inline-block;margin-right:14px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border-bottom:1px solid #e6e9ef;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f6f9;font-weight:600;font-size:12px;color:#3b4354}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.st{display:inline-block;min-width:54px;text-align:center;border-radius:3px;padding:0 4px;font-size:12px;font-weight:600}
.st.pass{background:#e6f6ec;color:#1e6b3a}.st.warn{background:#fff4d6;color:#8a5a00}
.st.fail{background:#fde8e8;color:#9b1c1c}.st.skipped{background:#eef0f4;color:#5b6475}
.hist{white-space:nowrap}.hist i{display:inline-block;width:9px;height:14px;margin-right:1px;border-radius:1px;background:#e3e6ec}
.hist i.pass{background:#3fa46a}.hist i.warn{background:#e0a800}.hist i.fail{background:#d64545}.hist i.skipped{background:#b8bfcc}
.rule{color:#5b6475;font-size:12px}.action{font-size:12px;color:#3b4354;margin:4px 0}
details{margin:2px 0 6px}summary{cursor:pointer;color:#2f5fb3;font-size:12px}
table.ex{width:auto;font-size:12px;margin:4px 0}table.ex td,table.ex th{padding:2px 6px}
ul.msgs{margin:4px 0 10px 18px;padding:0}ul.msgs li{margin:2px 0}
code{font-size:12px}
"""


def _t(value: object) -> str:
    """Escaped text without URL schemes (the page must reference nothing outside itself)."""
    text = "" if value is None else str(value)
    return html.escape(_SCHEME.sub("", text))


def _examples_table(raw: str | None) -> str:
    try:
        rows = json.loads(raw) if raw else []
    except json.JSONDecodeError:
        return ""
    if not rows or not isinstance(rows, list):
        return ""
    cols: list[str] = []
    for r in rows:
        if isinstance(r, dict):
            for c in r:
                if c not in cols:
                    cols.append(c)
    head = "".join(f"<th>{_t(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_t('' if (r.get(c) if isinstance(r, dict) else None) is None else r.get(c))}</td>"
                         for c in cols) + "</tr>"
        for r in rows)
    return (f"<details><summary>{len(rows)} failing record{'s' if len(rows) != 1 else ''} (up to 10)</summary>"
            f"<table class=ex><tr>{head}</tr>{body}</table></details>")


def _sentence(r: dict) -> str:
    from powercrm.quality.gate import sentence

    return sentence(r)


def render(rows: list[dict], history: dict[tuple[str, str], list[str | None]], runs: list[tuple[str, datetime]],
           run_id: str, run_at: datetime | None) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    blocking = [r for r in rows if r["status"] == "fail"]
    warnings = [r for r in rows if r["status"] == "warn"]
    partial = sorted({str(r.get("scope")) for r in rows if str(r.get("scope") or "full") != "full"})
    out: list[str] = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>PowerCRM quality report {_t(run_id)}</title><style>{CSS}</style></head><body>",
        "<h1>PowerCRM quality report</h1>",
        f"<div class=meta>run <code>{_t(run_id)}</code>"
        + (f" · checked {_t(run_at.strftime('%Y-%m-%d %H:%M:%S'))}" if run_at else "")
        + f" · {len(rows)} checks · history of the last {len(runs)} run(s), oldest first</div>",
    ]
    if partial:
        n = sum(1 for r in rows if str(r.get("scope") or "full") != "full")
        out.append(f"<div class='verdict partial'>Incremental check: {n} check(s) on the big fact tables covered "
                   f"only the months this run changed ({_t('; '.join(partial))}); older months were last checked "
                   "by the latest full check (see the scope column). Everything else was checked in full.</div>")
    if blocking:
        out.append(f"<div class='verdict block'>Blocked: {len(blocking)} blocking check(s) failed; the previous "
                   "published file was kept.</div>")
    else:
        out.append("<div class='verdict ok'>No blocking check failed: the figures of this run may be published."
                   + (f" {len(warnings)} warning(s) below." if warnings else "") + "</div>")
    out.append("<div class=counts>" + "".join(
        f"<span><span class='st {s}'>{s}</span> {counts.get(s, 0)}</span>" for s in ("fail", "warn", "skipped", "pass"))
        + "</div>")
    if blocking:
        out.append("<h2>Blocking</h2><ul class=msgs>" + "".join(f"<li>{_t(_sentence(r))}</li>" for r in blocking)
                   + "</ul>")
    if warnings:
        out.append("<h2>Warnings</h2><ul class=msgs>" + "".join(f"<li>{_t(_sentence(r))}</li>" for r in warnings)
                   + "</ul>")
    suites: list[str] = []
    for r in rows:
        if r["suite"] not in suites:
            suites.append(r["suite"])
    order = list(suites)
    suites.sort(key=lambda s: (s == "dbt", order.index(s)))
    run_labels = [rid for rid, _ in runs]
    for suite in suites:
        items = sorted((r for r in rows if r["suite"] == suite),
                       key=lambda r: (STATUS_ORDER.get(r["status"], 9), r["check_name"]))
        c = {s: sum(1 for r in items if r["status"] == s) for s in STATUS_ORDER}
        out.append(f"<h2>{_t(suite)} <span class=rule>{len(items)} checks: " +
                   ", ".join(f"{n} {s}" for s, n in c.items() if n) + "</span></h2>")
        out.append("<table><tr><th>status</th><th>check</th><th>table</th><th>severity</th><th>failing rows</th>"
                   "<th>observed</th><th>scope</th><th>history</th></tr>")
        for r in items:
            hist = history.get((r["suite"], r["check_name"]), [])
            cells = "".join(
                f"<i class='{_t(s or '')}' title='{_t(label)}: {_t(s or 'not run')}'></i>"
                for label, s in zip(run_labels, hist, strict=False))
            detail = ""
            if r["status"] in ("fail", "warn"):
                if r.get("action"):
                    detail += f"<div class=action>What to do: {_t(r['action'])}</div>"
                detail += _examples_table(r.get("examples"))
            failing = "" if r.get("failing_rows") is None else f"{int(r['failing_rows']):,}"
            out.append(
                f"<tr><td><span class='st {_t(r['status'])}'>{_t(r['status'])}</span></td>"
                f"<td><b>{_t(r['check_name'])}</b><div class=rule>{_t(r.get('description') or '')}</div>{detail}</td>"
                f"<td>{_t(r['table_name'])}</td><td>{_t(r['severity'])}</td><td class=num>{failing}</td>"
                f"<td>{_t(r.get('observed_value') or '')}</td><td>{_t(r.get('scope') or 'full')}</td>"
                f"<td class=hist>{cells}</td></tr>")
        out.append("</table>")
    out.append("<p class=meta>Severity <b>error</b> blocks publishing; <b>warn</b> is recorded and shown. "
               "Every run's results are in <code>audit.check_results</code> of the published file; "
               "docs/quality.md explains each check.</p></body></html>")
    return "\n".join(out)


def write_report(work_db: Path, out_path: Path, run_id: str | None = None, history_runs: int = HISTORY_RUNS) -> Path:
    """Write the report of `run_id` (default: the latest run in audit.check_results) to `out_path`."""
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        exists = con.execute("select count(*) from duckdb_tables() where database_name = current_database() "
                             "and schema_name = 'audit' and table_name = 'check_results'").fetchone()[0]
        if not exists:
            page = render([], {}, [], run_id or "none", None).replace(
                "No blocking check failed: the figures of this run may be published.",
                "No quality checks have been recorded in this database (audit.check_results is missing).")
            out_path.write_text(page, encoding="utf-8")
            return out_path
        runs_desc = con.execute(
            "select run_id, max(run_at) as run_at from audit.check_results group by run_id order by run_at desc, "
            "run_id desc").fetchall()
        if not runs_desc:
            run_id = run_id or "none"
            run_at = None
            rows: list[dict] = []
            runs: list[tuple[str, datetime]] = []
            history: dict[tuple[str, str], list[str | None]] = {}
        else:
            if run_id is None:
                run_id, run_at = runs_desc[0]
            else:
                run_at = next((t for rid, t in runs_desc if rid == run_id), None)
            # the runs up to this one, newest `history_runs`, shown oldest first
            idx = next((i for i, (rid, _) in enumerate(runs_desc) if rid == run_id), 0)
            runs = list(reversed(runs_desc[idx:idx + history_runs]))
            has_scope = con.execute(
                "select count(*) from duckdb_columns() where database_name = current_database() and schema_name = "
                "'audit' and table_name = 'check_results' and column_name = 'scope'").fetchone()[0]
            scope_col = "coalesce(scope, 'full')" if has_scope else "'full'"
            cur = con.execute(
                "select check_name, suite, table_name, severity, status, failing_rows, observed_value, description, "
                f"examples, coalesce(action, ''), {scope_col} from audit.check_results where run_id = ?",
                [run_id]).fetchall()
            keys = ("check_name", "suite", "table_name", "severity", "status", "failing_rows", "observed_value",
                    "description", "examples", "action", "scope")
            rows = [dict(zip(keys, r, strict=False)) for r in cur]
            run_ids = [rid for rid, _ in runs]
            marks = ", ".join("?" for _ in run_ids)
            hist_rows = con.execute(
                f"select suite, check_name, run_id, status from audit.check_results where run_id in ({marks})",
                run_ids).fetchall()
            by_key: dict[tuple[str, str], dict[str, str]] = {}
            for suite, name, rid, status in hist_rows:
                by_key.setdefault((suite, name), {})[rid] = status
            history = {k: [v.get(rid) for rid in run_ids] for k, v in by_key.items()}
    finally:
        con.close()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(render(rows, history, runs, run_id, run_at), encoding="utf-8")
    tmp.replace(out_path)
    return out_path
