"""The versioned JSON report: every journal in full, its verdict rows, and the summary CI
reads (`exit_code`: 0 all pass, 1 any fails, 3 none fails but some are inconclusive)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from gracectl.report.checks import (
    check_rows,
    combined_exit_code,
    counts,
    journal_exit_code,
    journal_title,
)
from gracectl.report.load import LoadedJournal

REPORT_VERSION = 1


def report_document(journals: Sequence[LoadedJournal], generated: datetime) -> dict[str, Any]:
    entries = []
    all_rows = []
    for loaded in journals:
        rows = check_rows(loaded)
        all_rows += rows
        entries.append(
            {
                "path": loaded.path,
                "kind": loaded.kind,
                "title": journal_title(loaded),
                "exit_code": journal_exit_code(loaded.journal),
                "summary": counts(rows),
                "checks": [asdict(row) for row in rows],
                "journal": loaded.journal.model_dump(mode="json"),
            }
        )
    return {
        "report_version": REPORT_VERSION,
        "generated": generated.isoformat(),
        "journals": entries,
        "summary": counts(all_rows),
        "exit_code": combined_exit_code(journal_exit_code(j.journal) for j in journals),
    }


def render_json(journals: Sequence[LoadedJournal], generated: datetime) -> str:
    return json.dumps(report_document(journals, generated), indent=2) + "\n"
