"""One entry point for every report format, and writing a report to a file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

from gracectl.errors import EnvironmentProblem
from gracectl.report.html import render_html
from gracectl.report.json_report import render_json
from gracectl.report.junit import render_junit
from gracectl.report.load import LoadedJournal
from gracectl.report.markdown import render_markdown

ReportFormat = Literal["md", "json", "junit", "html"]
Renderer = Callable[[Sequence[LoadedJournal], datetime], str]
RENDERERS: dict[ReportFormat, Renderer] = {
    "md": render_markdown,
    "json": render_json,
    "junit": render_junit,
    "html": render_html,
}


def render_report(
    journals: Sequence[LoadedJournal], report_format: ReportFormat, generated: datetime
) -> str:
    return RENDERERS[report_format](journals, generated)


def write_report(path: Path, text: str) -> None:
    """Write atomically (a CI step reading it never sees half a report)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        raise EnvironmentProblem(
            f"{path}: cannot write the report: {exc.strerror}",
            hint="pass --out a path in a writable directory",
        ) from exc
