"""A self-contained HTML report of an evaluation: the side-by-side table (winner marked), a latency
chart drawn as inline SVG, and every case's outputs side by side. One file, no scripts, fonts, images or
style sheets from anywhere else, so it can be mailed or attached to a ticket as it is."""

from __future__ import annotations

import html
from pathlib import Path

from desktop_app.core.errors import InvalidInput
from desktop_app.core.evaluation import (
    CaseResult,
    EvaluationRun,
    ModelStats,
    comparison_table,
    render_csv,
    render_json,
    select_winner,
)

__all__ = ["EXPORT_FORMATS", "latency_svg", "render_html", "write_html", "write_report"]

MAX_OUTPUT_CHARS = 6000

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1400px;
padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.meta{color:#5b6475;margin:0 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d8dde6;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f9}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.winner{background:#fff6d6}
.pass{color:#116329;font-weight:600}.fail{color:#b42318;font-weight:600}.err{color:#8a4b00}
pre{white-space:pre-wrap;word-break:break-word;margin:.25rem 0;
font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace}
.case{margin:1.25rem 0;border:1px solid #d8dde6;border-radius:6px;overflow:hidden}
.case>header{background:#f3f5f9;padding:.4rem .6rem;font-weight:600}
.vars{padding:.3rem .6rem;border-bottom:1px solid #d8dde6;background:#fafbfc}
.outputs{display:grid;gap:0}
.outputs>div{padding:.4rem .6rem;border-left:1px solid #d8dde6;min-width:0}
.outputs>div:first-child{border-left:none}
.badges span{display:inline-block;margin:0 .3rem .2rem 0;padding:0 .35rem;border-radius:3px;font-size:12px}
.b-pass{background:#dafbe1;color:#116329}.b-fail{background:#ffebe9;color:#b42318}
.b-err{background:#fff1d6;color:#8a4b00}
.small{font-size:12px;color:#5b6475}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def latency_svg(stats: list[ModelStats], *, width: int = 760) -> str:
    """Horizontal bars of median (p50) and p95 latency per model, as inline SVG."""
    rows = [s for s in stats if s.latency_p50_s is not None]
    if not rows:
        return '<p class="small">No latency to chart (no case finished without an error).</p>'
    label_w, right_pad, bar_h, gap = 260, 70, 12, 10
    row_h = 2 * bar_h + gap
    height = 30 + row_h * len(rows) + 24
    top = max((s.latency_p95_s or s.latency_p50_s or 0.0) for s in rows) or 1.0
    scale = (width - label_w - right_pad) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Latency per model (p50 and p95)">',
        '<rect x="0" y="0" width="100%" height="100%" fill="#fff"/>',
        f'<rect x="{label_w}" y="6" width="10" height="10" fill="#3b6fd8"/>'
        f'<text x="{label_w + 14}" y="15">p50</text>'
        f'<rect x="{label_w + 54}" y="6" width="10" height="10" fill="#a9c1f2"/>'
        f'<text x="{label_w + 68}" y="15">p95</text>',
    ]
    for i, s in enumerate(rows):
        y = 30 + i * row_h
        p50 = s.latency_p50_s or 0.0
        p95 = s.latency_p95_s if s.latency_p95_s is not None else p50
        label = s.model_id if len(s.model_id) <= 36 else s.model_id[:35] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h + 4}" text-anchor="end">{_e(label)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{max(1.0, p50 * scale):.1f}" height="{bar_h}" '
            'fill="#3b6fd8">'
            f"<title>{_e(s.model_id)} p50 {_e(_fmt_s(p50))}</title></rect>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + bar_h}" width="{max(1.0, p95 * scale):.1f}" height="{bar_h}" '
            f'fill="#a9c1f2"><title>{_e(s.model_id)} p95 {_e(_fmt_s(p95))}</title></rect>'
        )
        parts.append(
            f'<text x="{label_w + p95 * scale + 6:.1f}" y="{y + bar_h + 4}">{_e(_fmt_s(p95))}</text>'
        )
    axis_y = 30 + row_h * len(rows) + 4
    parts.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{width - right_pad}" y2="{axis_y}" stroke="#8a93a6"/>'
        f'<text x="{label_w}" y="{axis_y + 16}">0</text>'
        f'<text x="{width - right_pad}" y="{axis_y + 16}" text-anchor="end">{_e(_fmt_s(top))}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _summary_table(run: EvaluationRun) -> str:
    header, rows = comparison_table(run, mark="★")
    winner = select_winner(run.all_stats()) if len(run.model_ids) > 1 else None
    winner_col = run.model_ids.index(winner) + 1 if winner in run.model_ids else None
    out = ["<table><thead><tr>"]
    for i, cell in enumerate(header):
        cls = ' class="winner"' if i == winner_col else ""
        out.append(f"<th{cls}>{_e(cell)}</th>")
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            if i == 0:
                out.append(f"<th>{_e(cell)}</th>")
            else:
                cls = "num winner" if i == winner_col else "num"
                out.append(f'<td class="{cls}">{_e(cell)}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _cell(case: CaseResult | None) -> str:
    if case is None:
        return '<div><span class="small">not run</span></div>'
    verdict = '<span class="pass">✓ passed</span>' if case.passed else '<span class="fail">✗ failed</span>'
    badges = []
    for e in case.evaluations:
        cls = "b-err" if e.error else ("b-pass" if e.passed else "b-fail")
        mark = "!" if e.error else ("✓" if e.passed else "✗")
        badges.append(
            f'<span class="{cls}" title="{_e(e.details)}">{mark} {_e(e.evaluator_name)} {e.score:.2f}</span>'
        )
    output = case.output
    cut = ""
    if len(output) > MAX_OUTPUT_CHARS:
        cut = f'<p class="small">… {len(output) - MAX_OUTPUT_CHARS} more characters (see the JSON or CSV)</p>'
        output = output[:MAX_OUTPUT_CHARS]
    error = f'<p class="err">{_e(case.error)}</p>' if case.error else ""
    facts = f"latency {_fmt_s(case.latency_s)}"
    if case.ttft_s is not None:
        facts += f" · first token {_fmt_s(case.ttft_s)}"
    if case.tokens_per_s:
        facts += f" · {case.tokens_per_s:.1f} tok/s"
    thinking = ""
    if case.thinking:
        shown = _e(case.thinking[:MAX_OUTPUT_CHARS])
        thinking = f"<details><summary class='small'>thinking</summary><pre>{shown}</pre></details>"
    return (
        f"<div>{verdict}<div class='badges'>{''.join(badges)}</div>{error}<pre>{_e(output)}</pre>{cut}"
        f"{thinking}<p class='small'>{_e(facts)}</p></div>"
    )


def _cases(run: EvaluationRun) -> str:
    n = len(run.model_ids)
    out = []
    heads = "".join(f"<div><strong>{_e(m)}</strong></div>" for m in run.model_ids)
    grid = f"grid-template-columns:repeat({n},minmax(0,1fr))"
    out.append(f'<div class="outputs" style="{grid}">{heads}</div>')
    for index in range(run.case_count):
        cases = [run.result(m, index) for m in run.model_ids]
        variables = next((c.test_case for c in cases if c is not None), None)
        if variables is None:
            continue
        listing = "".join(f"<strong>{_e(k)}</strong><pre>{_e(v)}</pre>" for k, v in variables.items())
        cells = "".join(_cell(c) for c in cases)
        out.append(
            f'<section class="case" id="case-{index}"><header>Case {index}</header>'
            f'<div class="vars">{listing}</div><div class="outputs" style="{grid}">{cells}</div></section>'
        )
    return "".join(out)


def render_html(run: EvaluationRun) -> str:
    title = run.suite_name or "Evaluation"
    stats = run.all_stats()
    status = run.status.value
    if run.done < run.planned:
        status += f" ({run.done} of {run.planned} cases)"
    meta = (
        f"Run {_e(run.run_id)} · {_e(status)} · started {_e(run.started_at.strftime('%Y-%m-%d %H:%M UTC'))}"
        f" · {len(run.model_ids)} model(s) × {run.case_count} case(s)"
    )
    if run.suite_path:
        meta += f" · suite {_e(run.suite_path)}"
    description = f"<p>{_e(run.suite_description)}</p>" if run.suite_description else ""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)} — ModelDesk evaluation</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class='meta'>{meta}</p>{description}"
        "<h2>Results</h2>"
        f"{_summary_table(run)}"
        "<p class='small'>Each evaluator row shows the mean score and how many cases passed it; "
        "! counts checks that could not be made (e.g. an unreadable judge reply). ★ marks the winner: "
        "best pass rate, then mean score, then median latency.</p>"
        "<h2>Latency</h2>"
        f"{latency_svg(stats)}"
        "<h2>Outputs side by side</h2>"
        f"{_cases(run)}"
        "</body></html>\n"
    )


def write_html(run: EvaluationRun, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(run), encoding="utf-8")
    return target


EXPORT_FORMATS = {
    "json": "JSON (gh models eval --json)",
    "csv": "CSV (one row per case)",
    "html": "HTML report",
}


def write_report(run: EvaluationRun, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``run`` as JSON, CSV or HTML (``fmt``, else the file's suffix): the same files as
    ``modeldesk eval --json/--csv/--html``, for the window and any other caller."""
    import json

    target = Path(path)
    kind = (fmt or target.suffix.lstrip(".")).lower()
    if kind not in EXPORT_FORMATS:
        raise InvalidInput(
            f"Cannot export as {kind or 'a file without a suffix'!r}: use .json, .csv or .html."
        )
    if kind == "json":
        text = json.dumps(render_json(run), indent=2, ensure_ascii=False, default=str) + "\n"
    elif kind == "csv":
        text = render_csv(run)
    else:
        text = render_html(run)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise InvalidInput(f"Cannot write {target}: {exc.strerror or exc}") from None
    return target
