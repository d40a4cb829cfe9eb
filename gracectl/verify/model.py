"""What `gracectl verify` records: one ClaimResult per claim of the claims file, in a
VerifyJournal (reports are rendered from it alone)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from gracectl.journal_file import JournalFile
from gracectl.machine import MachineInfo

VERIFY_JOURNAL_VERSION = 1
ClaimVerdict = Literal["pass", "fail", "inconclusive"]


class ClaimResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str  # "postgres-writes"
    claim: str  # the document's words: "Writes: 10K/sec (primary)"
    claimed: str  # "10,000 writes/s"
    measured: str  # "1,180 writes/s" or "-" when nothing could be measured
    measured_value: float | None = None
    #: An extrapolation (per-replica ceiling x replicas), labelled, never the measurement.
    projection: str = ""
    verdict: ClaimVerdict
    reason: str = ""
    evidence: list[str] = []  # journal paths (capacity or chaos) the verdict rests on


class VerifyJournal(JournalFile, BaseModel):
    kind: Literal["verify"] = "verify"
    version: int = VERIFY_JOURNAL_VERSION
    start: float
    end: float | None = None
    profile: str
    machine: MachineInfo
    claims_file: str
    results: list[ClaimResult] = []

    def counts(self) -> dict[ClaimVerdict, int]:
        out: dict[ClaimVerdict, int] = {"pass": 0, "fail": 0, "inconclusive": 0}
        for r in self.results:
            out[r.verdict] += 1
        return out

    def exit_code(self) -> int:
        """0 every claim passes, 1 any fails, 3 none fails but some are inconclusive."""
        counts = self.counts()
        if counts["fail"]:
            return 1
        return 3 if counts["inconclusive"] or not self.results else 0
