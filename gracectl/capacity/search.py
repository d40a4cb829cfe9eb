"""The judgement of a capacity run, as pure functions over numbers: which offered rate to try
next, whether a step was sustained and by whom it was limited, where the latency knee is,
and what the run concludes. No I/O here, so every rule is unit-tested on synthetic steps.

Rules (documented in `gracectl capacity --help` too):

- A step is *sustained* when it had enough operations to judge a p99 (MIN_SAMPLES), the
  achieved rate is at least 99 % of the offered one, p99 from the planned send time is within
  the SLO and the error fraction is within the SLO.
- An unsustained step is *generator-saturated* (the generator, not the system, fell behind)
  when the busiest load process used >= 90 % of a core, or more than 1 % of the sends left
  late although their user was idle at the planned time (so nothing but the generator held
  them: a share that alone could push p99 past the tolerance), or the generator's event loop
  stalled for LOOP_BLOCK_LIMIT_MS or more. Any such sign is enough: a step is blamed on the
  system only when the generator demonstrably kept its schedule.
- The *knee* is the lowest offered rate whose p99 exceeds KNEE_FACTOR x the p99 of the
  lowest-rate step (and that p99 + KNEE_MIN_RISE_MS, so sub-millisecond jitter is no knee);
  generator-saturated and too-small steps are left out.
- The *maximum sustainable rate* is the achieved rate of the highest sustained step. It is a
  measurement only when the next higher judged step broke because of the system; if that
  step saturated the generator the run is `inconclusive: generator saturated at N/s`, and if
  no step broke the maximum was not reached (inconclusive, with the lower bound reported).
  If no step was sustained and the lowest one broke because of the system, the result is
  `measured` with no maximum: the system cannot sustain even that rate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from gracectl.capacity.model import CapacityStatus, Slo, StepResult
from gracectl.checks.latency import summarize_latencies
from gracectl.errors import ConfigError

#: A step with fewer operations than this has no meaningful p99 and is not judged.
MIN_SAMPLES = 100
ACHIEVED_FRACTION = 0.99
KNEE_FACTOR = 3.0
KNEE_MIN_RISE_MS = 2.0


@dataclass(frozen=True)
class Thresholds:
    """When the generator counts as the limit of a step."""

    generator_cpu: float = 0.9  # busiest load process, fraction of one core
    late_generator_fraction: float = 0.01  # sends held back by the generator, of all sends
    loop_block_ms: float = 100.0  # longest event-loop stall


DEFAULT_THRESHOLDS = Thresholds()


# -- one step --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawStep:
    """What the load processes of one step counted, merged, before any judgement.

    `sent` counts every operation the schedule planned and that got an outcome (ok, error,
    or not sent before the drain ended, which is an error and late). Latencies are of `ok`
    operations: `latencies_ms` from the planned send time, `service_ms` from the actual send.
    """

    offered_rate: float
    duration_s: float
    sent: int
    ok: int
    errors: int
    late: int
    late_generator: int
    achieved_rate: float
    latencies_ms: Sequence[float] = ()
    service_ms: Sequence[float] = ()
    generator_cpu: float = 0.0
    machine_cpu: float | None = None  # all cores busy, fraction (client and servers share)
    loop_blocked_ms: float | None = None
    started: float = 0.0
    ended: float = 0.0
    error_examples: dict[str, int] = field(default_factory=dict)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def generator_signs(raw: RawStep, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[str]:
    """Each sign that the generator, not the system, could not keep the schedule."""
    signs: list[str] = []
    if raw.generator_cpu >= thresholds.generator_cpu:
        signs.append(f"busiest load process at {raw.generator_cpu * 100:.0f}% of a core")
    if raw.sent and raw.late_generator / raw.sent > thresholds.late_generator_fraction:
        signs.append(f"{_percent(raw.late_generator / raw.sent)} of sends held back by the "
                     "generator")  # fmt: skip
    if raw.loop_blocked_ms is not None and raw.loop_blocked_ms >= thresholds.loop_block_ms:
        signs.append(f"event loop stalled {raw.loop_blocked_ms:.0f} ms")
    return signs


def judge_step(raw: RawStep, slo: Slo, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> StepResult:
    """Percentiles, sustained or not, and whether the generator was the limit."""
    latency = summarize_latencies(raw.latencies_ms)
    service = summarize_latencies(raw.service_ms)
    p99 = latency.p99_s
    error_fraction = raw.errors / raw.sent if raw.sent else 0.0
    broken: list[str] = []
    if raw.sent < MIN_SAMPLES:
        broken.append(f"too few samples: {raw.sent} < {MIN_SAMPLES} operations")
    else:
        if raw.achieved_rate < ACHIEVED_FRACTION * raw.offered_rate:
            broken.append(f"achieved {_percent(raw.achieved_rate / raw.offered_rate)} of "
                          "offered")  # fmt: skip
        if p99 is None:
            broken.append("no successful operation")
        elif p99 > slo.p99_ms:
            broken.append(f"p99 {p99:.1f} ms > {slo.p99_ms:g} ms")
        if error_fraction > slo.error_fraction:
            broken.append(f"errors {_percent(error_fraction)} > {_percent(slo.error_fraction)}")
    sustained = not broken
    signs = [] if sustained or raw.sent < MIN_SAMPLES else generator_signs(raw, thresholds)
    notes = list(broken)
    if signs:
        notes.append("generator saturated: " + ", ".join(signs))
    if raw.machine_cpu is not None and not sustained:
        notes.append(f"machine CPU {raw.machine_cpu * 100:.0f}%")
    if raw.error_examples and not sustained:
        top = max(raw.error_examples.items(), key=lambda item: item[1])
        notes.append(f"e.g. {top[0]} (x{top[1]})")
    return StepResult(
        offered_rate=raw.offered_rate,
        achieved_rate=raw.achieved_rate,
        sent=raw.sent,
        ok=raw.ok,
        errors=raw.errors,
        late=raw.late,
        late_generator=raw.late_generator,
        p50_ms=latency.p50_s,
        p99_ms=p99,
        p999_ms=latency.p999_s,
        service_p99_ms=service.p99_s,
        generator_cpu=raw.generator_cpu,
        loop_blocked_ms=raw.loop_blocked_ms,
        started=raw.started,
        ended=raw.ended,
        sustained=sustained,
        generator_saturated=bool(signs),
        note="; ".join(notes),
    )


def enough_samples(step: StepResult) -> bool:
    return step.sent >= MIN_SAMPLES


# -- which rate next ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StepPlan:
    """Geometric steps up from `start_rate` until a step breaks, then up to `refine_steps`
    bisections (geometric mean) between the highest sustained and the lowest broken rate
    above it. If the very first steps break, the search goes down by the same factor to
    `min_rate`. Never more than `max_steps` steps, never above `max_rate`."""

    start_rate: float
    growth: float = 2.0
    max_steps: int = 10
    refine_steps: int = 2
    min_rate: float = 10.0
    max_rate: float = 100_000.0
    resolution: float = 0.1  # stop refining once broken / sustained - 1 is this small

    def __post_init__(self) -> None:
        if not self.start_rate > 0:
            raise ConfigError(f"start rate must be > 0, got {self.start_rate:g}",
                              hint="e.g. --start-rate 200")  # fmt: skip
        if not self.growth > 1:
            raise ConfigError(f"growth factor must be > 1, got {self.growth:g}")
        if self.max_steps < 1:
            raise ConfigError(f"max steps must be >= 1, got {self.max_steps}",
                              hint="e.g. --max-steps 8")  # fmt: skip


def nice_rate(rate: float) -> float:
    """Three significant digits: 2263.4 -> 2260.0 (readable rates in tables)."""
    if rate <= 0:
        return rate
    digits = 2 - math.floor(math.log10(rate))
    return float(round(rate, digits))


def _bracket(steps: Sequence[StepResult]) -> tuple[float | None, float | None]:
    """(highest sustained offered rate, lowest broken offered rate above it)."""
    judged = [s for s in steps if enough_samples(s)]
    sustained = max((s.offered_rate for s in judged if s.sustained), default=None)
    above = [s.offered_rate for s in judged
             if not s.sustained and (sustained is None or s.offered_rate > sustained)]  # fmt: skip
    return sustained, min(above, default=None)


def _refinements(steps: Sequence[StepResult]) -> int:
    """Steps run since a sustained step first had a broken one above it."""
    for index in range(len(steps)):
        low, high = _bracket(steps[: index + 1])
        if low is not None and high is not None:
            return len(steps) - 1 - index
    return 0


def next_rate(plan: StepPlan, steps: Sequence[StepResult]) -> float | None:
    """The offered rate of the next step, or None when the search is over."""
    if len(steps) >= plan.max_steps:
        return None
    if not steps:
        return min(plan.start_rate, plan.max_rate)
    low, high = _bracket(steps)
    if high is None:  # nothing broke above the best: keep growing
        top = max(s.offered_rate for s in steps)
        return None if top >= plan.max_rate else min(top * plan.growth, plan.max_rate)
    if low is None:  # nothing sustained yet: go down
        lowest = min(s.offered_rate for s in steps)
        candidate = nice_rate(lowest / plan.growth)
        return candidate if candidate >= plan.min_rate else None
    if high / low - 1 <= plan.resolution or _refinements(steps) >= plan.refine_steps:
        return None
    middle = nice_rate(math.sqrt(low * high))
    return middle if low < middle < high else None


# -- the knee and the conclusion ---------------------------------------------------------------
def knee(
    steps: Sequence[StepResult], factor: float = KNEE_FACTOR, min_rise_ms: float = KNEE_MIN_RISE_MS
) -> float | None:
    """The lowest offered rate whose p99 exceeds max(factor x base, base + min_rise_ms), base
    being the p99 of the lowest-rate step; None if latency never turned up (or too few
    usable steps). Generator-saturated steps describe the generator and are left out."""
    usable = sorted(
        (s for s in steps
         if enough_samples(s) and not s.generator_saturated and s.p99_ms is not None),
        key=lambda s: s.offered_rate,
    )  # fmt: skip
    if len(usable) < 2:
        return None
    base = usable[0].p99_ms
    assert base is not None
    threshold = max(factor * base, base + min_rise_ms)
    return next((s.offered_rate for s in usable[1:] if (s.p99_ms or 0.0) > threshold), None)


@dataclass(frozen=True)
class Conclusion:
    status: CapacityStatus
    reason: str
    max_sustainable_rate: float | None = None
    knee_rate: float | None = None
    generator_limit_rate: float | None = None


def _rate(value: float) -> str:
    return f"{value:,.0f}/s" if value >= 100 else f"{value:.3g}/s"


def conclude(steps: Sequence[StepResult]) -> Conclusion:
    """Maximum sustainable rate, knee and status of a component's steps (see the module
    docstring for the rules)."""
    knee_rate = knee(steps)
    if not steps:
        return Conclusion("inconclusive", "no step ran")
    judged = [s for s in steps if enough_samples(s)]
    if not judged:
        return Conclusion(
            "inconclusive",
            f"too few samples: every step had fewer than {MIN_SAMPLES} operations "
            "(raise --step-seconds or --start-rate)",
        )
    sustained = [s for s in judged if s.sustained]
    best = max(sustained, key=lambda s: s.offered_rate, default=None)
    floor = best.offered_rate if best else 0.0
    best_rate = best.achieved_rate if best else None
    broken = sorted((s for s in judged if not s.sustained and s.offered_rate > floor),
                    key=lambda s: s.offered_rate)  # fmt: skip
    few = f"too few steps ({len(judged)}): " if len(judged) < 2 else ""
    if not broken:
        assert best is not None
        return Conclusion(
            "inconclusive",
            f"{few}never saturated: every step up to {_rate(best.offered_rate)} was sustained;"
            " the maximum is higher (raise --max-steps or --start-rate)",
            max_sustainable_rate=best_rate,
            knee_rate=knee_rate,
        )
    first = broken[0]
    if first.generator_saturated:
        return Conclusion(
            "inconclusive",
            f"generator saturated at {_rate(first.offered_rate)}",
            max_sustainable_rate=best_rate,
            knee_rate=knee_rate,
            generator_limit_rate=first.offered_rate,
        )
    if best is None:  # the system broke even the lowest rate tried: that is a measurement
        return Conclusion(
            "measured",
            f"{few}no step sustained, down to {_rate(first.offered_rate)}: {first.note}",
            knee_rate=knee_rate,
        )
    return Conclusion(
        "measured",
        f"{_rate(best.offered_rate)} sustained; {_rate(first.offered_rate)} broke: {first.note}",
        max_sustainable_rate=best_rate,
        knee_rate=knee_rate,
    )


# -- the --slo flag ----------------------------------------------------------------------------
_SLO_HINT = "e.g. --slo p99=50ms,errors=0.1%"
_DURATION = re.compile(r"^(?P<value>\d+(?:\.\d+)?)(?P<unit>us|ms|s)$")
_PERCENT = re.compile(r"^(?P<value>\d+(?:\.\d+)?)%$")
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_slo(text: str) -> Slo:
    """ "p99=50ms,errors=0.1%" -> Slo(p99_ms=50, error_fraction=0.001). Either part may be
    left out (its default holds); anything else is a ConfigError."""
    values: dict[str, float] = {}
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise ConfigError(f"--slo: empty or malformed {text!r}", hint=_SLO_HINT)
    for part in parts:
        key, sep, raw = (s.strip() for s in part.partition("="))
        if not sep or not raw:
            raise ConfigError(f"--slo: {part!r} is not key=value", hint=_SLO_HINT)
        key = key.lower()
        if key == "p99":
            match = _DURATION.match(raw)
            if not match:
                raise ConfigError(f"--slo: p99 {raw!r} needs a unit (us, ms, s)", hint=_SLO_HINT)
            values["p99_ms"] = float(match["value"]) * _TO_MS[match["unit"]]
        elif key == "errors":
            match = _PERCENT.match(raw)
            if match:
                values["error_fraction"] = float(match["value"]) / 100
            elif raw in ("0", "0.0"):
                values["error_fraction"] = 0.0
            else:
                raise ConfigError(f"--slo: errors {raw!r} must be a percentage", hint=_SLO_HINT)
        else:
            raise ConfigError(f"--slo: unknown key {key!r} (p99, errors)", hint=_SLO_HINT)
        if sum(1 for p in parts if p.split("=", 1)[0].strip().lower() == key) > 1:
            raise ConfigError(f"--slo: {key} given twice", hint=_SLO_HINT)
    try:
        return Slo.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"--slo: {text!r}: {first['loc'][0]} {first['msg']}",
                          hint=_SLO_HINT) from exc  # fmt: skip
