"""Reports rendered from journals alone (chaos, capacity, verify): JSON, Markdown, JUnit XML
and a self-contained HTML page with inline SVG plots.

`load` reads any journal, `checks` flattens each into verdict rows and exit codes, and one
module per format renders them.
"""

from __future__ import annotations

from gracectl.report.checks import CheckRow, check_rows, combined_exit_code, journal_exit_code
from gracectl.report.load import AnyJournal, LoadedJournal, load_journals, read_any_journal

__all__ = [
    "AnyJournal",
    "CheckRow",
    "LoadedJournal",
    "check_rows",
    "combined_exit_code",
    "journal_exit_code",
    "load_journals",
    "read_any_journal",
]
