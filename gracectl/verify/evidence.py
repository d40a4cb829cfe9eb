"""What a claim's verdict rests on (a capacity result, chaos journals, the units a figure
covers) and how a ClaimResult is written: shared by the capacity and the chaos judges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gracectl.capacity.model import ComponentCapacity
from gracectl.journal import Journal
from gracectl.verify.claims import Claim, ProjectionUnit, format_number
from gracectl.verify.model import ClaimResult, ClaimVerdict


@dataclass(frozen=True)
class CapacityEvidence:
    """One component's capacity result (None: the run gave none, `error` says why)."""

    result: ComponentCapacity | None
    journal_path: str = ""
    error: str = ""


@dataclass(frozen=True)
class ScenarioEvidence:
    """One chaos run's journal (None: it could not run, `error` says why)."""

    journal: Journal | None
    journal_path: str = ""
    error: str = ""


@dataclass(frozen=True)
class Units:
    """How many replicas / brokers / nodes a measurement spread over, and how many the
    claim is about."""

    per: ProjectionUnit
    measured: int
    claimed: int


def combine(verdicts: Iterable[ClaimVerdict]) -> ClaimVerdict:
    """fail if any fails; else inconclusive if any is (or there is none); else pass."""
    found = set(verdicts)
    if "fail" in found:
        return "fail"
    return "inconclusive" if "inconclusive" in found or not found else "pass"


def _with_note(reason: str, claim: Claim) -> str:
    return f"{reason}; note: {claim.note}" if claim.note else reason


def claim_result(claim: Claim, verdict: ClaimVerdict, reason: str, **fields: object) -> ClaimResult:
    return ClaimResult.model_validate(
        {
            "id": claim.id,
            "claim": claim.claim,
            "claimed": claim.describe_claimed(),
            "measured": "-",
            "verdict": verdict,
            "reason": _with_note(reason, claim),
            **fields,
        }
    )


def rate_text(value: float, unit: str) -> str:
    return f"{format_number(round(value))} {unit}"
