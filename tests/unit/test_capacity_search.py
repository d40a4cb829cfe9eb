"""The capacity search's rules on synthetic steps: judging a step, who limited it (system or
generator), the next rate, the knee, the conclusion, and the --slo flag."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from gracectl.capacity.model import Slo, StepResult
from gracectl.capacity.search import (
    MIN_SAMPLES,
    RawStep,
    StepPlan,
    conclude,
    judge_step,
    knee,
    next_rate,
    parse_slo,
)
from gracectl.errors import ConfigError

pytestmark = pytest.mark.unit

SLO = Slo(p99_ms=50.0, error_fraction=0.001)


def raw(
    offered: float,
    *,
    latency_ms: float = 2.0,
    tail_ms: float | None = None,
    achieved: float | None = None,
    errors: int = 0,
    cpu: float = 0.3,
    late_generator: int = 0,
    loop_ms: float | None = 5.0,
    duration_s: float = 10.0,
) -> RawStep:
    """A step of offered x duration operations; 2 % of them take `tail_ms`."""
    sent = int(offered * duration_s)
    ok = sent - errors
    tail = tail_ms if tail_ms is not None else latency_ms
    n_tail = ok // 50
    latencies = [latency_ms] * (ok - n_tail) + [tail] * n_tail
    return RawStep(
        offered_rate=offered,
        duration_s=duration_s,
        sent=sent,
        ok=ok,
        errors=errors,
        late=late_generator,
        late_generator=late_generator,
        achieved_rate=offered if achieved is None else achieved,
        latencies_ms=latencies,
        service_ms=latencies,
        generator_cpu=cpu,
        loop_blocked_ms=loop_ms,
    )


def step(offered: float, **kwargs: object) -> StepResult:
    return judge_step(raw(offered, **kwargs), SLO)  # type: ignore[arg-type]


# -- judging one step --------------------------------------------------------------------------
def test_a_step_within_the_slo_is_sustained() -> None:
    result = step(1000, latency_ms=2.0, tail_ms=8.0)
    assert result.sustained and not result.generator_saturated
    assert result.p50_ms == 2.0 and result.p99_ms == 8.0 and result.p999_ms == 8.0
    assert result.note == ""


def test_slo_breach_by_the_system_is_not_sustained_and_not_the_generator() -> None:
    result = step(1000, tail_ms=120.0)
    assert not result.sustained and not result.generator_saturated
    assert "p99 120.0 ms > 50 ms" in result.note


def test_error_breach_is_not_sustained() -> None:
    result = step(1000, errors=50)  # 0.5 % > 0.1 %
    assert not result.sustained and not result.generator_saturated
    assert "errors 0.5% > 0.1%" in result.note


def test_achieved_below_99_percent_of_offered_is_not_sustained() -> None:
    assert step(1000, achieved=995.0).sustained
    result = step(1000, achieved=985.0)
    assert not result.sustained and "achieved 98.5% of offered" in result.note


@pytest.mark.parametrize(
    ("kwargs", "sign"),
    [
        ({"cpu": 0.95}, "busiest load process at 95% of a core"),
        ({"late_generator": 300}, "3% of sends held back by the generator"),
        ({"loop_ms": 180.0}, "event loop stalled 180 ms"),
    ],
)
def test_a_saturated_generator_takes_the_blame_for_a_broken_step(
    kwargs: dict[str, float], sign: str
) -> None:
    result = step(1000, tail_ms=200.0, **kwargs)  # type: ignore[arg-type]
    assert not result.sustained
    assert result.generator_saturated
    assert sign in result.note


def test_a_busy_generator_that_kept_the_schedule_does_not_spoil_a_sustained_step() -> None:
    result = step(1000, cpu=0.95)
    assert result.sustained and not result.generator_saturated


def test_lateness_caused_by_slow_answers_is_the_systems() -> None:
    # Late sends whose user was waiting for the previous answer: `late`, not `late_generator`.
    slow = replace(raw(1000, tail_ms=300.0), late=400, late_generator=0)
    result = judge_step(slow, SLO)
    assert not result.sustained and not result.generator_saturated
    assert result.late == 400 and result.late_generator == 0


def test_too_few_samples_are_not_judged() -> None:
    result = step(5, duration_s=10)  # 50 operations
    assert result.sent < MIN_SAMPLES
    assert not result.sustained and not result.generator_saturated
    assert "too few samples" in result.note


# -- the next rate -----------------------------------------------------------------------------
def test_rates_grow_geometrically_until_a_step_breaks() -> None:
    plan = StepPlan(start_rate=100, max_steps=10)
    steps: list[StepResult] = []
    rates = []
    while len(rates) < 4:
        rate = next_rate(plan, steps)
        assert rate is not None
        rates.append(rate)
        steps.append(step(rate))
    assert rates == [100, 200, 400, 800]


def test_after_a_break_the_search_bisects_a_bounded_number_of_times() -> None:
    plan = StepPlan(start_rate=100, max_steps=10, refine_steps=2)
    steps = [step(100), step(200), step(400), step(800, tail_ms=300.0)]
    first = next_rate(plan, steps)
    assert first == pytest.approx(566.0)  # geometric mean of 400 and 800, 3 digits
    steps.append(step(first))  # sustained: the bracket is now 566..800
    second = next_rate(plan, steps)
    assert second == pytest.approx(673.0)
    steps.append(step(second, tail_ms=300.0))
    assert next_rate(plan, steps) is None  # two refinements done


def test_refining_stops_at_the_resolution() -> None:
    plan = StepPlan(start_rate=1000, refine_steps=10, resolution=0.1)
    steps = [step(1000), step(1050, tail_ms=300.0)]
    assert next_rate(plan, steps) is None


def test_when_the_first_step_breaks_the_search_goes_down_to_the_minimum() -> None:
    plan = StepPlan(start_rate=80, min_rate=10, max_steps=10)
    steps = [step(80, tail_ms=300.0)]
    rates = []
    while (rate := next_rate(plan, steps)) is not None:
        rates.append(rate)
        steps.append(step(rate, tail_ms=300.0))
    assert rates == [40, 20, 10]


def test_max_steps_and_max_rate_bound_the_search() -> None:
    plan = StepPlan(start_rate=100, max_steps=3)
    steps = [step(100), step(200), step(400)]
    assert next_rate(plan, steps) is None
    capped = StepPlan(start_rate=100, max_rate=300)
    assert next_rate(capped, [step(100), step(200)]) == 300
    assert next_rate(capped, [step(100), step(200), step(300)]) is None


def test_too_small_steps_keep_the_search_growing() -> None:
    plan = StepPlan(start_rate=5)
    assert next_rate(plan, [step(5)]) == 10


def test_a_bad_plan_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        StepPlan(start_rate=0)
    with pytest.raises(ConfigError):
        StepPlan(start_rate=10, growth=1.0)
    with pytest.raises(ConfigError):
        StepPlan(start_rate=10, max_steps=0)


# -- the knee ----------------------------------------------------------------------------------
def test_the_knee_is_where_p99_first_exceeds_three_times_the_low_load_p99() -> None:
    curve = {100: 2.0, 200: 2.1, 400: 2.4, 800: 4.0, 1600: 9.0, 3200: 45.0}
    steps = [step(rate, tail_ms=p99) for rate, p99 in curve.items()]
    assert knee(steps) == 1600


def test_sub_millisecond_jitter_is_no_knee() -> None:
    steps = [step(100, latency_ms=0.2, tail_ms=0.3), step(200, latency_ms=0.2, tail_ms=1.2)]
    assert knee(steps) is None  # 4x, but only 0.9 ms up


def test_generator_saturated_steps_do_not_make_a_knee() -> None:
    steps = [step(100), step(200), step(400, tail_ms=300.0, cpu=0.97)]
    assert steps[-1].generator_saturated
    assert knee(steps) is None


# -- the conclusion ----------------------------------------------------------------------------
def test_a_system_limit_is_measured() -> None:
    steps = [step(100), step(200), step(400, tail_ms=10.0),
             step(800, tail_ms=120.0, achieved=700.0)]  # fmt: skip
    result = conclude(steps)
    assert result.status == "measured"
    assert result.max_sustainable_rate == 400
    assert result.knee_rate == 400  # 10 ms > 3 x 2 ms
    assert result.generator_limit_rate is None
    assert "800/s broke" in result.reason


def test_a_saturated_generator_is_inconclusive_never_a_figure_for_the_system() -> None:
    steps = [step(100), step(200), step(400, tail_ms=900.0, cpu=0.98)]
    result = conclude(steps)
    assert result.status == "inconclusive"
    assert result.reason == "generator saturated at 400/s"
    assert result.generator_limit_rate == 400
    assert result.max_sustainable_rate == 200  # a lower bound, labelled by the status


def test_a_run_that_never_broke_is_inconclusive_with_a_lower_bound() -> None:
    result = conclude([step(100), step(200)])
    assert result.status == "inconclusive"
    assert "never saturated" in result.reason
    assert result.max_sustainable_rate == 200


def test_too_few_samples_or_steps_are_inconclusive() -> None:
    assert conclude([]).status == "inconclusive"
    few = conclude([step(2), step(4)])
    assert few.status == "inconclusive" and "too few samples" in few.reason
    one = conclude([step(1000)])
    assert one.status == "inconclusive" and "too few steps (1)" in one.reason


def test_no_step_sustained_by_the_system_is_a_measurement_without_a_maximum() -> None:
    result = conclude([step(100, errors=500), step(50, errors=250)])
    assert result.status == "measured"
    assert result.max_sustainable_rate is None
    assert "no step sustained, down to 50/s" in result.reason


def test_no_step_sustained_because_of_the_generator_is_inconclusive() -> None:
    result = conclude([step(100, tail_ms=300.0, cpu=0.99)])
    assert result.status == "inconclusive" and "generator saturated at 100/s" in result.reason


def _simulated(offered: float, system_limit: float, generator_limit: float) -> RawStep:
    """A system that queues beyond `system_limit`, a generator whose CPU saturates at
    `generator_limit` (and then sends late)."""
    cpu = min(1.0, 0.9 * offered / generator_limit)
    if offered <= min(system_limit, generator_limit):
        return raw(offered, latency_ms=2.0, tail_ms=4.0 + 10.0 * offered / system_limit, cpu=cpu)
    if generator_limit < system_limit:
        return raw(offered, tail_ms=400.0, achieved=generator_limit, cpu=cpu,
                   late_generator=int(offered * 10 * 0.3))  # fmt: skip
    return raw(offered, tail_ms=2000.0, achieved=system_limit, cpu=cpu)


@pytest.mark.parametrize(("system", "generator"), [(3000.0, 50_000.0), (50_000.0, 3000.0)])
def test_search_end_to_end_on_a_simulated_system(system: float, generator: float) -> None:
    plan = StepPlan(start_rate=250, max_steps=12)
    steps: list[StepResult] = []
    while (rate := next_rate(plan, steps)) is not None:
        steps.append(judge_step(_simulated(rate, system, generator), SLO))
    result = conclude(steps)
    limit = min(system, generator)
    assert result.max_sustainable_rate is not None
    assert limit / math.sqrt(2) <= result.max_sustainable_rate <= limit
    if generator < system:
        assert result.status == "inconclusive"
        assert result.reason.startswith("generator saturated at")
        assert not any(s.sustained for s in steps if s.offered_rate > generator)
    else:
        assert result.status == "measured"
        assert result.generator_limit_rate is None


# -- --slo -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "p99_ms", "errors"),
    [
        ("p99=50ms,errors=0.1%", 50.0, 0.001),
        ("p99=0.2s", 200.0, 0.001),
        ("p99=500us", 0.5, 0.001),
        ("errors=0", 50.0, 0.0),
        (" P99 = 20ms , errors = 1% ", 20.0, 0.01),
    ],
)
def test_parse_slo(text: str, p99_ms: float, errors: float) -> None:
    slo = parse_slo(text)
    assert slo.p99_ms == pytest.approx(p99_ms)
    assert slo.error_fraction == pytest.approx(errors)


@pytest.mark.parametrize(
    "text",
    ["", "p99", "p99=", "p99=50", "p99=-5ms", "p99=0ms", "errors=5", "errors=200%",
     "latency=5ms", "p99=50ms,,errors=1%", "p99=50ms,p99=20ms", "p99=fast"],
)  # fmt: skip
def test_bad_slo_strings_are_config_errors_with_a_hint(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_slo(text)
    assert caught.value.exit_code == 2
    assert "p99=50ms" in caught.value.hint
