"""Judging a capacity claim: pass only on a step sustained at or above the claim; the native
tool's figure bounds the system from above; a generator limit, a coarse step or too few
units is inconclusive; a projection is shown and never decides."""

from __future__ import annotations

from gracectl.capacity.model import ComponentCapacity, NativeCeiling, Slo, StepResult
from gracectl.capacity.search import enough_samples
from gracectl.verify.claims import CapacityTest, Claim, format_number
from gracectl.verify.evidence import CapacityEvidence, Units, claim_result, rate_text
from gracectl.verify.model import ClaimResult


def _stopping_step(result: ComponentCapacity) -> StepResult | None:
    """Where the search hit a limit: the lowest judged step above the highest sustained one
    that was not sustained (steps too small to judge are left out, as the capacity run
    leaves them out)."""
    judged = [s for s in result.steps if enough_samples(s)]
    top = max((s.offered_rate for s in judged if s.sustained), default=None)
    broken = [s for s in judged if not s.sustained and (top is None or s.offered_rate > top)]
    return min(broken, key=lambda s: s.offered_rate) if broken else None


def _capacity_measured(result: ComponentCapacity, unit: str) -> str:
    rate = result.max_sustainable_rate
    if rate is None:
        return "-"
    bound = "" if result.status == "measured" else ">= "
    text = f"{bound}{rate_text(rate, unit)} sustained"
    if result.knee_rate is not None:
        text += f", knee at {format_number(round(result.knee_rate))}/s"
    if result.native is not None:
        text += f"; {result.native.tool}: {rate_text(result.native.throughput, result.native.unit)}"
    return text


def projection_text(rate: float | None, units: Units | None, unit: str, lower_bound: bool) -> str:
    """`measured / units measured x units claimed`, labelled; empty when the measurement
    already covers the claim's units or there is nothing to project."""
    if rate is None or units is None or units.measured == units.claimed or units.measured < 1:
        return ""
    per_unit = rate / units.measured
    bound = ">= " if lower_bound else ""
    return (
        f"projection, not measured: {bound}{rate_text(per_unit * units.claimed, unit)} = "
        f"{rate_text(per_unit, unit)} per {units.per} x {units.claimed} {units.per}s "
        f"(measured on {units.measured}; linear scaling assumed)"
    )


def judge_capacity(
    claim: Claim, test: CapacityTest, evidence: CapacityEvidence, units: Units | None
) -> ClaimResult:
    claimed = claim.value
    assert claimed is not None  # the model requires a number for capacity claims
    paths = [evidence.journal_path] if evidence.journal_path else []
    result = evidence.result
    if result is None:
        reason = evidence.error or f"the capacity run gave no result for {test.capacity}"
        return claim_result(claim, "inconclusive", reason, evidence=paths)
    unit = claim.unit or result.unit
    rate = result.max_sustainable_rate
    fields: dict[str, object] = {
        "measured": _capacity_measured(result, unit),
        "measured_value": rate,
        "projection": projection_text(rate, units, unit, result.status != "measured"),
        "evidence": paths,
    }
    if rate is not None and rate >= claimed:
        return claim_result(
            claim, "pass",
            f"sustained {rate_text(rate, unit)} within the SLO, at or above the claimed "
            f"{rate_text(claimed, unit)}",
            **fields,
        )  # fmt: skip
    whole = units is None or units.measured >= units.claimed
    native = result.native
    if whole and native is not None and native.throughput < claimed:
        return claim_result(claim, "fail", _native_short(native, claimed, unit, rate), **fields)
    if result.status != "measured":
        return claim_result(
            claim, "inconclusive", result.reason or "the capacity run measured no ceiling",
            **fields,
        )  # fmt: skip
    stop = _stopping_step(result)
    if stop is None:
        top = max((s.offered_rate for s in result.steps), default=0.0)
        reason = (f"every step up to {rate_text(top, unit)} was sustained: the run ended before "
                  "the system's limit (more steps would decide)")  # fmt: skip
        return claim_result(claim, "inconclusive", reason, **fields)
    if stop.generator_saturated:
        reason = (f"generator saturated at {rate_text(stop.offered_rate, unit)}: the system's "
                  "ceiling was not reached")  # fmt: skip
        return claim_result(claim, "inconclusive", reason, **fields)
    if stop.offered_rate > claimed:
        reason = (f"the ceiling lies between {rate_text(rate or 0.0, unit)} and "
                  f"{rate_text(stop.offered_rate, unit)}, around the claimed "
                  f"{rate_text(claimed, unit)}: a finer step would decide")  # fmt: skip
        return claim_result(claim, "inconclusive", reason, **fields)
    if units is not None and units.measured < units.claimed:
        reason = (f"measured on {units.measured} {units.per}(s), the claim is about "
                  f"{units.claimed}: the measurement alone cannot decide, and a projection "
                  "is not a measurement")  # fmt: skip
        return claim_result(claim, "inconclusive", reason, **fields)
    if native is not None and _native_sustains(native, stop.offered_rate, result.slo):
        reason = (
            f"gracectl broke at {rate_text(stop.offered_rate, unit)}, but {native.tool} reached "
            f"{rate_text(native.throughput, unit)} at p99 {native.p99_ms:g} ms on the same "
            "endpoint: the system goes further, so the break is the load generator's (it "
            "shares the cores), not a measurement of the system"
        )
        return claim_result(claim, "inconclusive", reason, **fields)
    p99 = "-" if stop.p99_ms is None else f"{stop.p99_ms:.0f} ms"
    reason = (
        f"the system could not sustain {rate_text(stop.offered_rate, unit)} (at or below the "
        f"claim): achieved {rate_text(stop.achieved_rate, unit)}, p99 {p99}, errors "
        f"{stop.error_fraction:.2%} (SLO {result.slo.describe()})"
        + (f"; {stop.note}" if stop.note else "")
    )
    return claim_result(claim, "fail", reason, **fields)


def _native_short(
    native: NativeCeiling, claimed: float, unit: str, sustained: float | None
) -> str:
    """Why a native tool's figure below the claim fails it: the cheapest generator there is,
    unthrottled, latency ignored, is an upper bound of what the system does here."""
    p99 = "" if native.p99_ms is None else f", p99 {native.p99_ms:g} ms"
    ours = "" if sustained is None else (
        f"; gracectl sustained {rate_text(sustained, unit)} within the SLO"
    )
    return (
        f"even {native.tool}, unthrottled on the same endpoint, reached only "
        f"{rate_text(native.throughput, unit)}{p99}, below the claimed {rate_text(claimed, unit)} "
        f"(it shares this machine's cores with the system){ours}"
    )


def _native_sustains(native: NativeCeiling, rate: float, slo: Slo) -> bool:
    """The native tool did more than `rate` with its p99 inside the SLO."""
    return (
        native.throughput > rate and native.p99_ms is not None and native.p99_ms <= slo.p99_ms
    )
