"""The HTML report: one self-contained file (inline CSS, inline SVG plots, a few lines of
inline script; nothing fetched from anywhere), verdicts first, then each journal in detail.

Every text from a journal goes through `html.escape`. The script only checks that the plots
were laid out and records it on `<body>` (`data-rendered="1"`), which the headless-browser
test reads; the report reads the same without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from gracectl.capacity.model import CapacityJournal, ComponentCapacity
from gracectl.journal import Journal
from gracectl.report.checks import (
    CheckRow,
    check_rows,
    combined_exit_code,
    counts,
    journal_exit_code,
    journal_title,
)
from gracectl.report.formatting import (
    STEP_HEADER,
    machine_line,
    native_ceiling,
    number,
    rate,
    step_cells,
    timestamp,
)
from gracectl.report.load import LoadedJournal
from gracectl.report.markdown import EXIT_MEANING
from gracectl.report.plots import capacity_charts, chaos_charts, fault_windows, time_origin
from gracectl.report.svg import render_chart
from gracectl.verify.model import VerifyJournal

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .path { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.verdict { font-weight: 600; text-transform: uppercase; }
.pass, .measured { color: #1a7f37; } .fail { color: #cf222e; } .inconclusive { color: #9a6700; }
tr.projection td { color: #555; font-style: italic; background: #fafafa; }
.summary span { margin-right: 14px; } .machine, .meta { color: #555; }
.empty { color: #777; font-style: italic; }
details { margin: 8px 0 16px; }
svg.plot { display: block; margin: 12px 0; background: #fff; }
svg.plot text { font-size: 11px; fill: #333; }
svg.plot .plot-title { font-size: 13px; font-weight: 600; }
svg.plot .grid { stroke: #eee; } svg.plot .frame { fill: none; stroke: #999; }
svg.plot .line { fill: none; stroke-width: 1.8; }
svg.plot .legend-line { stroke-width: 2; }
svg.plot .band.fault { fill: rgba(255, 140, 0, 0.18); stroke: rgba(255, 140, 0, 0.5); }
svg.plot .band-label { fill: #b35900; font-size: 10px; }
svg.plot .marker { stroke-width: 1.5; stroke-dasharray: 5 3; }
svg.plot .marker-label { font-size: 10px; font-weight: 600; }
"""

# Runs after the plots are in the DOM: counts those laid out with something drawn.
SCRIPT = """
(function () {
  var plots = document.querySelectorAll("svg.plot");
  var drawn = 0;
  plots.forEach(function (plot) {
    var box = plot.getBoundingClientRect();
    if (box.width > 0 && box.height > 0 && plot.querySelector("path.line, circle.point")) {
      drawn += 1;
    }
  });
  document.body.dataset.plots = String(plots.length);
  document.body.dataset.plotsDrawn = String(drawn);
  document.body.dataset.rendered = drawn === plots.length ? "1" : "0";
})();
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _verdict(row_label: str) -> str:
    return f'<span class="verdict {_e(row_label)}">{_e(row_label)}</span>'


def _path_link(path: str) -> str:
    """A link to a local file: the path as written, the href absolute (reports are opened
    from anywhere)."""
    try:
        href = Path(path).absolute().as_uri()
    except ValueError:
        return f'<span class="path">{_e(path)}</span>'
    return f'<a class="path" href="{_e(href)}">{_e(path)}</a>'


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Sequence[int] = (),
    row_classes: Sequence[str] = (),
) -> str:
    """Cells are HTML already (escaped by the caller)."""
    out = ["<table>", "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"]
    for index, row in enumerate(rows):
        css = row_classes[index] if index < len(row_classes) else ""
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        out.append(f'<tr class="{_e(css)}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _result_cells(row: CheckRow) -> tuple[str, ...]:
    """A check's cells from the claimed/threshold column on: claimed or threshold, measured,
    verdict, reason, evidence."""
    return (
        _e(row.expected),
        _e(row.measured),
        _verdict(row.label),
        _e(row.reason),
        "<br>".join(_path_link(p) for p in row.evidence),
    )


def _verdict_table(journals: Sequence[LoadedJournal], all_rows: Sequence[list[CheckRow]]) -> str:
    rows: list[Sequence[str]] = []
    classes: list[str] = []
    for index, (loaded, checks) in enumerate(zip(journals, all_rows, strict=True), start=1):
        title = f'<a href="#journal-{index}">{_e(journal_title(loaded))}</a>'
        for row in checks:
            name = (
                f"{_e(row.name)}<br><small>{_e(row.description)}</small>"
                if row.description
                else _e(row.name)
            )
            rows.append((title, name, *_result_cells(row)))
            classes.append("")
            if row.projection:
                rows.append(
                    (
                        "",
                        f"↳ {_e(row.name)}",
                        "",
                        _e(row.projection),
                        "projection (extrapolated, not measured)",
                        "",
                        "",
                    )
                )
                classes.append("projection")
    return _table(
        ("journal", "check", "claimed / threshold", "measured", "verdict", "reason", "evidence"),
        rows,
        row_classes=classes,
    )


def _chaos(index: int, journal: Journal, rows: list[CheckRow]) -> list[str]:
    out = []
    duration = journal.duration_s
    facts = [
        f"status {journal.status}",
        f"profile {journal.profile}",
        f"{journal.replication_mode} replication",
        *([f"bus {journal.bus}"] if journal.scenario.get("events") else []),
        *([] if duration is None else [f"{duration:.0f} s"]),
    ]
    out.append(
        f'<p class="meta">Scenario <b>{_e(journal.scenario.get("name", "?"))}</b>: '
        f"{_e(', '.join(facts))}; verdict {_verdict(journal.verdict)}</p>"
    )
    if journal.reason:
        out.append(f"<p>{_e(journal.reason)}</p>")
    charts = chaos_charts(journal, f"plot-{index}")
    if charts:
        out.append("\n".join(render_chart(c) for c in charts))
    else:
        out.append(
            '<p class="empty">No time series in this journal (written before gracectl '
            "recorded them, or the load never ran): nothing to plot.</p>"
        )
    out.append("<h3>Invariants</h3>")
    out.append(
        _table(
            ("invariant", "value", "threshold", "status", "reason"),
            (
                (_e(r.name), _e(r.measured), _e(r.expected), _verdict(r.label), _e(r.reason))
                for r in rows
            ),
            numeric=(1,),
        )
    )
    details = [d for r in rows for d in r.details]
    if details:
        out.append("<ul>" + "".join(f"<li><code>{_e(d)}</code></li>" for d in details) + "</ul>")
    windows = fault_windows(journal)
    origin = time_origin(journal)
    if windows:
        out.append("<h3>Fault windows</h3>")
        out.append(
            _table(
                ("fault", "target", "injected (s after load start)", "healed after"),
                (
                    (
                        _e(w.name),
                        _e(w.target),
                        f"{w.start - origin:.2f}",
                        "never healed" if w.end is None else f"{w.end - w.start:.1f} s",
                    )
                    for w in windows
                ),
                numeric=(2, 3),
            )
        )
    if journal.metrics:
        out.append(f"<details><summary>All metrics ({len(journal.metrics)})</summary>")
        out.append(
            _table(
                ("metric", "value"),
                ((_e(k), _e(number(v))) for k, v in journal.metrics.items()),
                numeric=(1,),
            )
        )
        out.append("</details>")
    if journal.actions or journal.rollbacks:
        out.append("<details><summary>Actions and rollbacks</summary>")
        out.append(
            _table(
                ("action", "target", "at", "took", "ok", "note"),
                (
                    (
                        _e(a.name),
                        _e(a.target or ""),
                        _e(timestamp(a.started)),
                        f"{a.ended - a.started:.2f} s",
                        "yes" if a.ok else "no",
                        _e(a.note),
                    )
                    for a in [*journal.actions, *journal.rollbacks]
                ),
            )
        )
        out.append("</details>")
    if journal.history_path:
        out.append(
            f"<p>History: {_path_link(journal.history_path)} (the plots above come "
            "from the journal alone)</p>"
        )
    return out


def _component(index: int, result: ComponentCapacity) -> list[str]:
    out = [
        f"<h3>{_e(result.component)} ({_e(result.unit)}) against "
        f"<code>{_e(result.target)}</code>: {_verdict(result.status)}</h3>"
    ]
    if result.reason:
        out.append(f"<p>{_e(result.reason)}</p>")
    facts = [
        f"max sustainable {rate(result.max_sustainable_rate, result.unit)}",
        f"knee {rate(result.knee_rate, result.unit)}",
        f"SLO {result.slo.describe()}",
    ]
    facts.append(f"native ceiling {native_ceiling(result)}")
    out.append(f'<p class="meta">{_e("; ".join(facts))}</p>')
    if result.native is not None:
        out.append(f"<p>Native tool: <code>{_e(result.native.command)}</code></p>")
    charts = capacity_charts(result, f"plot-{index}-{result.component}")
    if not charts:
        out.append('<p class="empty">No step was measured: nothing to plot.</p>')
        return out
    out.append("\n".join(render_chart(c) for c in charts))
    steps = sorted(result.steps, key=lambda s: s.offered_rate)
    out.append(
        _table(
            (*STEP_HEADER, "note"),
            ((*(_e(c) for c in step_cells(s)), _e(s.note)) for s in steps),
            numeric=range(len(STEP_HEADER) - 1),
        )
    )
    return out


def _capacity(index: int, journal: CapacityJournal) -> list[str]:
    out = [
        f'<p class="meta">Profile {_e(journal.profile)}, {len(journal.results)} component(s).</p>'
    ]
    for result in journal.results:
        out += _component(index, result)
    if not journal.results:
        out.append('<p class="empty">The journal holds no component.</p>')
    return out


def _verify(journal: VerifyJournal, rows: list[CheckRow]) -> list[str]:
    out = [
        f'<p class="meta">Claims file <code>{_e(journal.claims_file)}</code>, profile '
        f"{_e(journal.profile)}.</p>"
    ]
    body: list[Sequence[str]] = []
    classes: list[str] = []
    for row in rows:
        claim = f"<b>{_e(row.name)}</b>" + (f": {_e(row.description)}" if row.description else "")
        body.append((claim, *_result_cells(row)))
        classes.append("")
        if row.projection:
            body.append(
                (
                    f"↳ {_e(row.name)}: projection (extrapolated, not measured)",
                    "",
                    _e(row.projection),
                    "",
                    "",
                    "",
                )
            )
            classes.append("projection")
    out.append(
        _table(
            ("claim", "claimed", "measured", "verdict", "reason", "evidence"),
            body,
            row_classes=classes,
        )
    )
    return out


def render_html(journals: Sequence[LoadedJournal], generated: datetime) -> str:
    all_rows = [check_rows(j) for j in journals]
    total = counts(r for rows in all_rows for r in rows)
    exit_code = combined_exit_code(journal_exit_code(j.journal) for j in journals)
    machines = sorted({machine_line(j.journal.machine) for j in journals})
    body = [
        "<h1>gracectl report</h1>",
        f'<p class="summary"><span>exit code <b>{exit_code}</b> '
        f"({_e(EXIT_MEANING.get(exit_code, '?'))})</span>"
        f'<span class="pass">{total["pass"]} pass</span>'
        f'<span class="fail">{total["fail"]} fail</span>'
        f'<span class="inconclusive">{total["inconclusive"]} inconclusive</span></p>',
        *(f'<p class="machine">Machine: {_e(m)}</p>' for m in machines),
        f'<p class="meta">Generated {_e(generated.isoformat(timespec="seconds"))} from '
        f"{len(journals)} journal(s).</p>",
        "<h2>Verdicts</h2>",
        _verdict_table(journals, all_rows),
    ]
    for index, (loaded, rows) in enumerate(zip(journals, all_rows, strict=True), start=1):
        journal = loaded.journal
        body += [
            f'<section id="journal-{index}" class="journal {_e(loaded.kind)}">',
            f"<h2>{_e(journal_title(loaded))}</h2>",
            f'<p class="meta">Journal {_path_link(loaded.path)}, started '
            f"{_e(timestamp(journal.start))}. Machine: {_e(machine_line(journal.machine))}.</p>",
        ]
        if isinstance(journal, Journal):
            body += _chaos(index, journal, rows)
        elif isinstance(journal, CapacityJournal):
            body += _capacity(index, journal)
        else:
            body += _verify(journal, rows)
        body.append("</section>")
    title = f"gracectl report: {', '.join(journal_title(j) for j in journals)}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
