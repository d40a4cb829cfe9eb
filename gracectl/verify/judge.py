"""Pure functions from a claim and the runs that test it to a ClaimResult.

Rules (the claims file's comments repeat them where they apply):
- pass only on a real measurement that meets the claim: a capacity step sustained within the
  SLO at or above the claimed rate, or every finding the claim rests on passing;
- a capacity figure limited by the generator, by the number of steps, or by a step too
  coarse to tell, is inconclusive, never a fail; a fail needs the system (not the generator)
  to have failed an offered rate at or below the claim, on as many units as the claim is about;
- a projection (measured per unit x units) is shown, labelled, and never decides a verdict;
- an availability percentage is never passed by a chaos run (it measures downtime per
  failure, not a month's availability): inconclusive, unless the run alone breaks it (no
  recovery at all, or one failure longer than the month's whole downtime budget);
- a run that could not run (no stack, the wrong bus, aborted) leaves its claims inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gracectl.checks.policy import CheckPolicy
from gracectl.journal import Journal
from gracectl.verify.claims import (
    AvailabilityTest,
    CapacityTest,
    Claim,
    ProjectionUnit,
    ScenarioTest,
    UntestableTest,
)
from gracectl.verify.evidence import (
    CapacityEvidence,
    ScenarioEvidence,
    Units,
    claim_result,
    combine,
)
from gracectl.verify.judge_capacity import judge_capacity, projection_text
from gracectl.verify.model import ClaimResult, ClaimVerdict

__all__ = [
    "CapacityEvidence",
    "ScenarioEvidence",
    "Units",
    "combine",
    "judge_capacity",
    "judge_claim",
    "projection_text",
]

MONTH_S = 30 * 24 * 3600.0
#: recovery metric -> (the metric counting the attempts during the fault, what was attempted)
RECOVERY_SAMPLES: dict[str, tuple[str, str]] = {
    "rto_s": ("writes_in_fault", "writes"),
    "recovery_s": ("produces_in_fault", "produces"),
}


@dataclass(frozen=True)
class _Part:
    """One run's share of a claim's verdict."""

    verdict: ClaimVerdict
    measured: str
    reason: str


# -- chaos runs ----------------------------------------------------------------------------
def _scenario_name(journal: Journal, ref: str) -> str:
    name = journal.scenario.get("name")
    return name if isinstance(name, str) else ref


def _fault_target(journal: Journal) -> str:
    targets = [str(w.get("target")) for w in journal.fault_windows if w.get("target")]
    return ", ".join(dict.fromkeys(targets)) or "the fault"


def never_recovered(journal: Journal, metric: str, policy: CheckPolicy | None = None) -> str:
    """Why the run shows no recovery at all (empty when it does not show that): a recovery
    metric left unmeasured although the load kept trying during the fault."""
    if metric not in RECOVERY_SAMPLES or journal.status != "completed":
        return ""
    if journal.metrics.get(metric) is not None or not journal.fault_windows:
        return ""
    sample_metric, what = RECOVERY_SAMPLES[metric]
    attempts = journal.metrics.get(sample_metric)
    floor = (policy or CheckPolicy()).min_ops_in_window
    if not isinstance(attempts, int) or attempts < max(floor, 1):
        return ""
    return (f"{what} never resumed after the fault on {_fault_target(journal)}: "
            f"none of {attempts} {what} during it was acknowledged")  # fmt: skip


def _value(journal: Journal, metric: str) -> str:
    value = journal.metrics.get(metric)
    if value is None:
        return f"{metric} = -"
    if isinstance(value, bool):
        return f"{metric} = {str(value).lower()}"
    if isinstance(value, float):
        shown = f"{value:.3g}" if metric not in RECOVERY_SAMPLES else f"{value:.1f}"
        return f"{metric} = {shown}"
    return f"{metric} = {value}"


def _unusable(evidence: ScenarioEvidence, ref: str) -> _Part | None:
    """A run that did not happen or did not get to its checks."""
    journal = evidence.journal
    if journal is None:
        return _Part("inconclusive", f"{ref}: not run", f"{ref}: {evidence.error or 'not run'}")
    name = _scenario_name(journal, ref)
    if journal.status in ("aborted", "interrupted"):
        return _Part("inconclusive", f"{name}: {journal.status}",
                     f"{name}: {journal.reason or journal.status}")  # fmt: skip
    return None


def judge_run(evidence: ScenarioEvidence, ref: str, metrics: Iterable[str]) -> _Part:
    """One chaos run, on the findings the claim rests on."""
    unusable = _unusable(evidence, ref)
    if unusable is not None:
        return unusable
    journal = evidence.journal
    assert journal is not None
    name = _scenario_name(journal, ref)
    parts: list[tuple[ClaimVerdict, str]] = []
    shown: list[str] = []
    for metric in metrics:
        shown.append(_value(journal, metric))
        finding = next((f for f in journal.findings if f.name == metric), None)
        stalled = never_recovered(journal, metric)
        if stalled:
            parts.append(("fail", stalled))
        elif finding is None:
            parts.append(("inconclusive", f"the run judged no {metric}"))
        else:
            parts.append((finding.status, finding.reason or f"{metric} {finding.status}"))
    if journal.status == "failed":
        parts.append(("fail", journal.reason or "the run failed"))
    verdict = combine(v for v, _ in parts)
    reasons = [r for v, r in parts if v == verdict]
    return _Part(verdict, f"{name}: {', '.join(shown)}", f"{name}: {'; '.join(reasons)}")


def _paths(evidence: Iterable[ScenarioEvidence]) -> list[str]:
    return list(dict.fromkeys(e.journal_path for e in evidence if e.journal_path))


def _evidence_for(evidence: Mapping[str, ScenarioEvidence], ref: str) -> ScenarioEvidence:
    return evidence.get(ref) or ScenarioEvidence(None, error="not run")


def judge_scenarios(
    claim: Claim, test: ScenarioTest, evidence: Mapping[str, ScenarioEvidence]
) -> ClaimResult:
    used = [_evidence_for(evidence, r.scenario) for r in test.scenarios]
    parts = [judge_run(e, r.scenario, r.metrics) for e, r in zip(used, test.scenarios, strict=True)]
    verdict = combine(p.verdict for p in parts)
    return claim_result(
        claim,
        verdict,
        " | ".join(p.reason for p in parts if p.verdict == verdict),
        measured="; ".join(p.measured for p in parts),
        evidence=_paths(used),
    )


def downtime_budget_s(availability_percent: float, period_s: float = MONTH_S) -> float:
    """99.9 % of a 30-day month leaves 43.2 minutes of downtime."""
    return (1 - availability_percent / 100) * period_s


def judge_availability(
    claim: Claim, test: AvailabilityTest, evidence: Mapping[str, ScenarioEvidence]
) -> ClaimResult:
    claimed = claim.value
    assert claimed is not None
    budget_s = downtime_budget_s(claimed)
    used = [_evidence_for(evidence, r.scenario) for r in test.availability]
    parts: list[_Part] = []
    downtimes: list[float] = []
    for ref, ev in zip(test.availability, used, strict=True):
        unusable = _unusable(ev, ref.scenario)
        if unusable is not None:
            parts.append(unusable)
            continue
        journal = ev.journal
        assert journal is not None
        name = _scenario_name(journal, ref.scenario)
        value = journal.metrics.get(ref.metric)
        measured = (f"{name}: {ref.metric} = {value:.1f} s per failure"
                    if isinstance(value, int | float) and not isinstance(value, bool)
                    else f"{name}: {ref.metric} not measured")  # fmt: skip
        stalled = never_recovered(journal, ref.metric)
        finding = next((f for f in journal.findings if f.name == ref.metric), None)
        if stalled:
            parts.append(_Part("fail", measured, f"{name}: {stalled}: no availability "
                               "figure survives a failure that does not recover"))  # fmt: skip
        elif not isinstance(value, int | float) or isinstance(value, bool):
            why = finding.reason if finding else f"{ref.metric} not measured"
            parts.append(_Part("inconclusive", measured, f"{name}: {why}"))
        elif finding is not None and finding.status == "inconclusive":
            parts.append(_Part("inconclusive", measured, f"{name}: {finding.reason}"))
        elif value > budget_s:
            why = (f"{name}: one failure cost {value:.0f} s, more than the "
                   f"{budget_s / 60:.1f} min a month {claimed:g} % allows")
            parts.append(_Part("fail", measured, why))
        else:
            downtimes.append(float(value))
            parts.append(_Part("inconclusive", measured, ""))
    verdict = combine(p.verdict for p in parts)
    projection = ""
    if downtimes:
        worst = max(downtimes)
        per_month = math.floor(budget_s / worst + 1e-9) if worst > 0 else None
        projection = (
            f"projection, not measured: {claimed:g} % allows {budget_s / 60:.1f} min/month = "
            + (f"{per_month} failures like the slowest measured ({worst:.1f} s) per month"
               if per_month is not None else "any number of failures this short")
        )  # fmt: skip
    reasons = [p.reason for p in parts if p.verdict == verdict and p.reason]
    if verdict != "fail":
        reasons.insert(0, "a chaos run measures downtime per failure, not availability over "
                       "a month; that also depends on how often failures happen, which no "
                       "run here measures")  # fmt: skip
    return claim_result(
        claim,
        verdict,
        " | ".join(reasons),
        measured="; ".join(p.measured for p in parts),
        measured_value=max(downtimes) if downtimes else None,
        projection=projection,
        evidence=_paths(used),
    )


def judge_claim(
    claim: Claim,
    capacity: Mapping[str, CapacityEvidence],
    scenarios: Mapping[str, ScenarioEvidence],
    units: Mapping[ProjectionUnit, tuple[int, int]] | None = None,
) -> ClaimResult:
    """Dispatch on the claim's test. `capacity` is keyed by component, `scenarios` by the
    scenario reference as written in the claims file, `units` maps a projection unit to
    (units measured, units in the document's topology)."""
    test = claim.test
    if isinstance(test, UntestableTest):
        return claim_result(claim, "inconclusive", f"not testable by gracectl: {test.untestable}")
    if isinstance(test, ScenarioTest):
        return judge_scenarios(claim, test, scenarios)
    if isinstance(test, AvailabilityTest):
        return judge_availability(claim, test, scenarios)
    evidence = capacity.get(test.capacity) or CapacityEvidence(None, error="not run")
    return judge_capacity(claim, test, evidence, resolve_units(test, units or {}))


def resolve_units(
    test: CapacityTest, units: Mapping[ProjectionUnit, tuple[int, int]]
) -> Units | None:
    if test.projection is None:
        return None
    per = test.projection.per
    measured, in_document = units.get(per, (1, 1))
    count = test.projection.count
    return Units(per, measured, in_document if count == "from-topology" else count)
