"""Every journal flattened into verdict rows (one per claim, invariant or component) and an
exit code: the common ground of all report formats.

Exit codes, as CI reads them: 0 every claim passes, 1 any fails, 3 none fails but some are
inconclusive. A capacity journal claims nothing of its own: a measured component counts as a
pass, one that could not be measured (generator saturated, no target) as inconclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gracectl.capacity.model import CapacityJournal, ComponentCapacity
from gracectl.journal import Journal
from gracectl.report.formatting import ms, native_ceiling, number, rate
from gracectl.report.load import JournalKind, LoadedJournal
from gracectl.verify.model import VerifyJournal

RowVerdict = Literal["pass", "fail", "inconclusive"]
VERDICTS: tuple[RowVerdict, ...] = ("pass", "fail", "inconclusive")
EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE = 0, 1, 3
# Evidence lists in failures stay readable: the journal holds the full list.
EVIDENCE_SAMPLE = 20


@dataclass(frozen=True)
class CheckRow:
    source: str  # the journal's path
    kind: JournalKind
    name: str  # claim id, invariant name, capacity component
    verdict: RowVerdict
    label: str  # as shown: the verdict, or "measured" for a capacity component
    measured: str
    expected: str  # claimed figure, invariant threshold, SLO
    description: str = ""  # the claim in the document's words
    reason: str = ""
    projection: str = ""  # an extrapolation, never the measurement
    evidence: tuple[str, ...] = ()  # journal paths the verdict rests on
    details: tuple[str, ...] = ()  # further evidence lines (lost ids, knee, native ceiling)


def journal_title(loaded: LoadedJournal) -> str:
    journal = loaded.journal
    if isinstance(journal, Journal):
        return f"chaos: {journal.scenario.get('name', '?')}"
    if isinstance(journal, CapacityJournal):
        components = ", ".join(r.component for r in journal.results) or "no component"
        return f"capacity: {components}"
    return f"verify: {journal.claims_file}"


def capacity_exit_code(journal: CapacityJournal) -> int:
    measured = journal.results and all(r.status == "measured" for r in journal.results)
    return EXIT_PASS if measured else EXIT_INCONCLUSIVE


def journal_exit_code(journal: Journal | CapacityJournal | VerifyJournal) -> int:
    if isinstance(journal, CapacityJournal):
        return capacity_exit_code(journal)
    return journal.exit_code()


def combined_exit_code(codes: Iterable[int]) -> int:
    """1 if any journal failed, else 3 if any was inconclusive, else 0."""
    seen = set(codes)
    if EXIT_FAIL in seen:
        return EXIT_FAIL
    return EXIT_INCONCLUSIVE if seen - {EXIT_PASS} else EXIT_PASS


def counts(rows: Iterable[CheckRow]) -> dict[RowVerdict, int]:
    out: dict[RowVerdict, int] = dict.fromkeys(VERDICTS, 0)
    for row in rows:
        out[row.verdict] += 1
    return out


def check_rows(loaded: LoadedJournal) -> list[CheckRow]:
    journal = loaded.journal
    if isinstance(journal, Journal):
        return _chaos_rows(loaded.path, journal)
    if isinstance(journal, CapacityJournal):
        return _capacity_rows(loaded.path, journal)
    return _verify_rows(loaded.path, journal)


def _loss_details(journal: Journal) -> tuple[str, ...]:
    details = []
    if journal.lost_acked_ids:
        sample = ", ".join(str(i) for i in journal.lost_acked_ids[:EVIDENCE_SAMPLE])
        details.append(f"lost acknowledged ids (first {EVIDENCE_SAMPLE}): {sample}")
    if journal.lost_acked_events_sample:
        sample = ", ".join(journal.lost_acked_events_sample[:EVIDENCE_SAMPLE])
        details.append(f"lost acknowledged events (first {EVIDENCE_SAMPLE}): {sample}")
    return tuple(details)


def _chaos_rows(source: str, journal: Journal) -> list[CheckRow]:
    """One row per invariant finding, plus a `run` row when the run did not complete (or
    found nothing to judge), so that the rows always add up to the journal's exit code."""
    evidence = tuple(p for p in (source, journal.history_path) if p)
    loss = _loss_details(journal)
    rows = [
        CheckRow(
            source=source,
            kind="chaos",
            name=f.name,
            verdict=f.status,
            label=f.status,
            measured=number(f.value),
            expected=f.threshold,
            reason=f.reason,
            evidence=evidence,
            details=loss if f.status == "fail" and f.name.startswith("lost_acked") else (),
        )
        for f in journal.findings
    ]
    if journal.status != "completed" or not rows:
        verdict: RowVerdict = "inconclusive"  # aborted, interrupted
        if journal.status == "failed":  # the rollback did not restore a healthy cluster
            verdict = "fail"
        elif journal.status == "completed":
            verdict = journal.verdict
        rows.append(
            CheckRow(
                source=source,
                kind="chaos",
                name="run",
                verdict=verdict,
                label=verdict,
                measured=journal.status,
                expected="completed",
                reason=journal.reason,
                evidence=evidence,
            )
        )
    return rows


def _nothing_row(source: str, kind: JournalKind, name: str, reason: str) -> CheckRow:
    """The one row of a journal that holds no result: inconclusive, `reason` saying so."""
    return CheckRow(
        source=source,
        kind=kind,
        name=name,
        verdict="inconclusive",
        label="inconclusive",
        measured="-",
        expected="-",
        reason=reason,
        evidence=(source,),
    )


def _capacity_rows(source: str, journal: CapacityJournal) -> list[CheckRow]:
    if not journal.results:
        return [_nothing_row(source, "capacity", "capacity", "the journal holds no component")]
    return [_capacity_row(source, result) for result in journal.results]


def _capacity_row(source: str, result: ComponentCapacity) -> CheckRow:
    details = [
        f"knee: {rate(result.knee_rate, result.unit)}",
        f"native ceiling: {native_ceiling(result)}",
    ]
    if result.generator_limit_rate is not None:
        details.append(f"generator saturated at {rate(result.generator_limit_rate, result.unit)}")
    best = max(
        (s for s in result.steps if s.sustained), key=lambda s: s.achieved_rate, default=None
    )
    if best is not None:
        details.append(f"p99 at the max sustainable step: {ms(best.p99_ms)}")
    return CheckRow(
        source=source,
        kind="capacity",
        name=result.component,
        verdict="pass" if result.status == "measured" else "inconclusive",
        label=result.status,
        measured=f"{rate(result.max_sustainable_rate, result.unit)} max sustainable",
        expected=f"SLO {result.slo.describe()}, achieved >= 99% of offered",
        description=f"target {result.target}",
        reason=result.reason,
        evidence=(source,),
        details=tuple(details),
    )


def _verify_rows(source: str, journal: VerifyJournal) -> list[CheckRow]:
    rows = [
        CheckRow(
            source=source,
            kind="verify",
            name=r.id,
            verdict=r.verdict,
            label=r.verdict,
            measured=r.measured,
            expected=r.claimed,
            description=r.claim,
            reason=r.reason,
            projection=r.projection,
            evidence=tuple(r.evidence) or (source,),
        )
        for r in journal.results
    ]
    if not rows:
        rows.append(_nothing_row(source, "verify", "claims", "the journal holds no claim result"))
    return rows
