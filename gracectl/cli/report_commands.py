"""`gracectl report JOURNAL...`: re-render chaos, capacity and verify journals, alone."""

from __future__ import annotations

import json
import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gracectl.cli.render import VERDICT_STYLE, console, err_console, journal_summary
from gracectl.errors import ConfigError
from gracectl.journal import Journal
from gracectl.report import check_rows, combined_exit_code, journal_exit_code, load_journals
from gracectl.report.checks import journal_title
from gracectl.report.formatting import machine_line
from gracectl.report.load import LoadedJournal
from gracectl.report.markdown import append_step_summary
from gracectl.report.render import render_report, write_report

EXIT_HELP = (
    "Exit codes: 0 every claim and invariant passed; 1 one failed; 2 bad input (unreadable or "
    "unknown journal, flags); 3 none failed but some were inconclusive, or a run was aborted."
)


class ReportFormat(StrEnum):
    md = "md"
    json = "json"
    junit = "junit"
    html = "html"


def _result_object(loaded: LoadedJournal) -> dict[str, Any]:
    journal = loaded.journal
    if isinstance(journal, Journal):
        return journal.result()
    return journal.model_dump(mode="json")


def _checks_table(loaded: LoadedJournal) -> Table:
    table = Table(
        title=f"{journal_title(loaded)}\n{loaded.path}\nmachine: "
        f"{machine_line(loaded.journal.machine)}",
        title_justify="left",
    )
    for column in ("check", "claimed / threshold", "measured", "verdict", "reason"):
        table.add_column(column, overflow="fold")
    for row in check_rows(loaded):
        style = VERDICT_STYLE[row.verdict]
        name = f"{row.name}: {row.description}" if row.description else row.name
        table.add_row(name, row.expected, row.measured, f"[{style}]{row.label}[/]", row.reason)
        if row.projection:
            table.add_row(f"  ↳ {row.name}", "", row.projection, "projection", "not measured")
    return table


def _print_terminal(journals: list[LoadedJournal], as_json: bool) -> None:
    if as_json:
        objects = [_result_object(j) for j in journals]
        print(json.dumps(objects[0] if len(objects) == 1 else objects, indent=2))
        return
    for loaded in journals:
        if isinstance(loaded.journal, Journal):
            console.print(journal_summary(loaded.journal))
        else:
            console.print(_checks_table(loaded))


def report(
    journal_files: Annotated[
        list[Path],
        typer.Argument(
            metavar="JOURNAL",
            help="Journals (chaos, capacity or verify journal.json, or run dirs).",
            show_default=False,
        ),
    ],
    report_format: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            help="md, json (versioned), junit (XML) or html (one self-contained file with "
            "plots). Without it: tables for the terminal.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the report to this file, not stdout.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each journal's result object as JSON.")
    ] = False,
) -> None:
    """Render reports from journals alone (the histories may be gone). With --format md and
    GITHUB_STEP_SUMMARY set, the Markdown is also appended to that file."""
    if as_json and report_format is not None:
        raise ConfigError(
            "--json and --format cannot be combined",
            hint="--format json writes the versioned report; --json prints the result objects",
        )
    if out is not None and report_format is None:
        raise ConfigError("--out needs --format", hint="e.g. --format html --out report.html")
    journals = load_journals(journal_files)
    exit_code = combined_exit_code(journal_exit_code(j.journal) for j in journals)
    if report_format is None:
        _print_terminal(journals, as_json)
        raise typer.Exit(exit_code)
    text = render_report(journals, report_format.value, datetime.now().astimezone())
    if out is None:
        typer.get_text_stream("stdout").write(text)
    else:
        write_report(out, text)
        err_console.print(f"wrote the {report_format.value} report to {out}", highlight=False)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if report_format is ReportFormat.md and summary_file:
        append_step_summary(text, Path(summary_file))
    raise typer.Exit(exit_code)
