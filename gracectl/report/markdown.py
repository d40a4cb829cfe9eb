"""The Markdown report (GitHub-flavoured tables), and its append to `$GITHUB_STEP_SUMMARY`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from gracectl.capacity.model import CapacityJournal, ComponentCapacity
from gracectl.errors import EnvironmentProblem
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
    rate,
    step_cells,
    timestamp,
)
from gracectl.report.load import LoadedJournal
from gracectl.report.plots import fault_windows, time_origin
from gracectl.verify.model import VerifyJournal

EXIT_MEANING = {0: "every check passed", 1: "a check failed", 3: "none failed, some inconclusive"}


def cell(text: object) -> str:
    """A table cell: pipes and markup escaped, newlines folded (a cell is one line)."""
    folded = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    # GitHub renders inline HTML in Markdown: a journal's text must stay text.
    return folded.replace("<", "&lt;").replace(">", "&gt;").strip() or " "


def code(text: str) -> str:
    return f"`{text}`" if text and "`" not in text else text


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def verdict_text(row: CheckRow) -> str:
    label = f"**{row.label.upper()}**"
    return f"{label}: {row.reason}" if row.reason else label


def _verify(journal: VerifyJournal, rows: list[CheckRow]) -> list[str]:
    body: list[Sequence[object]] = []
    for row in rows:
        claim = f"{row.name}: {row.description}" if row.description else row.name
        body.append(
            (
                claim,
                row.expected,
                row.measured,
                verdict_text(row),
                ", ".join(code(e) for e in row.evidence),
            )
        )
        if row.projection:
            body.append(
                (
                    f"↳ {row.name}: projection (extrapolated, not measured)",
                    "",
                    row.projection,
                    "",
                    "",
                )
            )
    lines = [f"Claims file {code(journal.claims_file)}, profile {journal.profile}.", ""]
    return lines + table(("claim", "claimed", "measured", "verdict", "evidence"), body)


def _component(result: ComponentCapacity) -> list[str]:
    lines = [f"### {result.component} ({result.unit}) against {code(result.target)}", ""]
    steps = sorted(result.steps, key=lambda s: s.offered_rate)
    if not steps:
        return [*lines, "No step was measured.", ""]
    return lines + table(STEP_HEADER, (step_cells(s) for s in steps))


def _capacity(journal: CapacityJournal, rows: list[CheckRow]) -> list[str]:
    lines = [f"Profile {journal.profile}.", ""]
    lines += table(
        ("component", "status", "max sustainable", "knee", "native ceiling", "reason"),
        (
            (
                r.component,
                r.status,
                rate(r.max_sustainable_rate, r.unit),
                rate(r.knee_rate, r.unit),
                native_ceiling(r),
                r.reason,
            )
            for r in journal.results
        ),
    )
    for result in journal.results:
        lines += _component(result)
    return lines


def _chaos(journal: Journal, rows: list[CheckRow]) -> list[str]:
    duration = journal.duration_s
    lines = [
        f"Scenario {journal.scenario.get('name', '?')}: status {journal.status}, verdict "
        f"**{journal.verdict.upper()}**, profile {journal.profile}, "
        f"{journal.replication_mode} replication"
        + (f", bus {journal.bus}" if journal.scenario.get("events") else "")
        + ("" if duration is None else f", {duration:.0f} s")
        + ".",
        "",
    ]
    if journal.reason:
        lines += [f"Reason: {journal.reason}", ""]
    lines += table(
        ("invariant", "value", "threshold", "status", "reason"),
        ((r.name, r.measured, r.expected, f"**{r.label.upper()}**", r.reason) for r in rows),
    )
    windows = fault_windows(journal)
    origin = time_origin(journal)
    if windows:
        lines += table(
            ("fault", "target", "injected (s after load start)", "healed after"),
            (
                (
                    w.name,
                    w.target,
                    f"{w.start - origin:.2f}",
                    "never healed" if w.end is None else f"{w.end - w.start:.1f} s",
                )
                for w in windows
            ),
        )
    details = [f"- {cell(detail)}" for row in rows for detail in row.details]
    if details:
        lines += [*details, ""]
    if journal.history_path:
        lines += [f"History: {code(journal.history_path)}", ""]
    return lines


def render_markdown(journals: Sequence[LoadedJournal], generated: datetime) -> str:
    all_rows = [check_rows(j) for j in journals]
    total = counts(row for rows in all_rows for row in rows)
    exit_code = combined_exit_code(journal_exit_code(j.journal) for j in journals)
    lines = [
        "# gracectl report",
        "",
        f"Exit code **{exit_code}** ({EXIT_MEANING.get(exit_code, '?')}): "
        f"{total['pass']} pass, {total['fail']} fail, {total['inconclusive']} inconclusive. "
        f"Generated {generated.strftime('%Y-%m-%d %H:%M:%S %Z').strip()}.",
        "",
    ]
    for loaded, rows in zip(journals, all_rows, strict=True):
        journal = loaded.journal
        lines += [
            f"## {journal_title(loaded)}",
            "",
            f"Journal {code(loaded.path)}, started {timestamp(journal.start)}.  ",
            f"Machine: {machine_line(journal.machine)}.",
            "",
        ]
        if isinstance(journal, VerifyJournal):
            lines += _verify(journal, rows)
        elif isinstance(journal, CapacityJournal):
            lines += _capacity(journal, rows)
        else:
            lines += _chaos(journal, rows)
    return "\n".join(lines).rstrip() + "\n"


def append_step_summary(markdown: str, summary_file: Path) -> None:
    """Append to GitHub Actions' job summary file (several steps may write to it)."""
    try:
        with summary_file.open("a") as fh:
            if fh.tell() > 0:
                fh.write("\n")
            fh.write(markdown)
    except OSError as exc:
        raise EnvironmentProblem(
            f"{summary_file}: cannot append the step summary: {exc.strerror}",
            hint="GITHUB_STEP_SUMMARY must name a writable file (unset it outside CI)",
        ) from exc
