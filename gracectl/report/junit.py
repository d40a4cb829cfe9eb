"""JUnit XML: a testsuite per journal, a testcase per claim (verify), invariant (chaos) or
component (capacity). A failure carries its evidence; inconclusive is `<skipped>`, never a
pass. Built with ElementTree, so every text and attribute is escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from gracectl.report.checks import CheckRow, check_rows, counts, journal_title
from gracectl.report.formatting import machine_line
from gracectl.report.load import LoadedJournal

# Characters XML 1.0 cannot hold at all, even escaped (a stray ANSI escape in a reason).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def evidence_text(row: CheckRow) -> str:
    """The body of a failure or skip: what was measured against what, and where to look."""
    lines = [
        f"{row.kind} {row.name}: {row.label}",
        f"measured: {row.measured}",
        f"expected: {row.expected}",
    ]
    if row.description:
        lines.append(row.description if row.kind == "capacity" else f"claim: {row.description}")
    if row.projection:
        lines.append(f"projection (extrapolated, not measured): {row.projection}")
    if row.reason:
        lines.append(f"reason: {row.reason}")
    lines += [f"evidence: {path}" for path in row.evidence]
    lines += list(row.details)
    return xml_safe("\n".join(lines))


def _message(row: CheckRow) -> str:
    head = f"{row.name}: measured {row.measured}, expected {row.expected}"
    return xml_safe(f"{head}: {row.reason}" if row.reason else head)


def _testcase(suite: ET.Element, classname: str, row: CheckRow) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=xml_safe(row.name), time="0")
    if row.verdict == "fail":
        failure = ET.SubElement(case, "failure", message=_message(row), type=row.label)
        failure.text = evidence_text(row)
    elif row.verdict == "inconclusive":
        skipped = ET.SubElement(case, "skipped", message=f"inconclusive: {_message(row)}")
        skipped.text = evidence_text(row)
    else:
        out = ET.SubElement(case, "system-out")
        out.text = evidence_text(row)


def render_junit(journals: Sequence[LoadedJournal], generated: datetime) -> str:
    root = ET.Element("testsuites", name="gracectl")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for loaded in journals:
        rows = check_rows(loaded)
        tally = counts(rows)
        journal = loaded.journal
        duration = 0.0 if journal.end is None else max(journal.end - journal.start, 0.0)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=xml_safe(journal_title(loaded)),
            tests=str(len(rows)),
            failures=str(tally["fail"]),
            errors="0",
            skipped=str(tally["inconclusive"]),
            time=f"{duration:.3f}",
            timestamp=datetime.fromtimestamp(journal.start, generated.tzinfo).isoformat(),
            hostname=journal.machine.hostname if journal.machine else "",
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("journal", loaded.path),
            ("kind", loaded.kind),
            ("machine", machine_line(journal.machine)),
            ("profile", journal.profile),
        ):
            ET.SubElement(properties, "property", name=name, value=xml_safe(value))
        classname = f"gracectl.{loaded.kind}"
        for row in rows:
            _testcase(suite, classname, row)
        totals["tests"] += len(rows)
        totals["failures"] += tally["fail"]
        totals["skipped"] += tally["inconclusive"]
    for key, total in totals.items():
        root.set(key, str(total))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
