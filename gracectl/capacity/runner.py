"""Run `gracectl capacity`: for each component, step the open-model rate (gracectl.capacity.
search decides the rates and judges the steps), run the native tool beside it, and write
$GRACECTL_HOME/runs/capacity-<timestamp>/journal.json, rewritten after every component so an
interrupted run keeps what it measured.

Bounded: at most `max_steps` steps per component, and a time budget per component of
`max_steps` x (step + start-up and drain slack); SIGINT/SIGTERM stop the current step (its
Locust is stopped and reaped) and leave the remaining components `inconclusive`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gracectl import stack
from gracectl.bus.kafka_bus import KafkaBus
from gracectl.capacity.kafka_step import run_kafka_step
from gracectl.capacity.locust_step import START_DELAY_S, run_locust_step
from gracectl.capacity.model import (
    COMPONENTS,
    UNITS,
    CapacityComponent,
    CapacityJournal,
    ComponentCapacity,
    NativeCeiling,
    Slo,
    StepResult,
)
from gracectl.capacity.native_ceiling import native_ceiling
from gracectl.capacity.search import RawStep, StepPlan, conclude, judge_step, next_rate
from gracectl.capacity.targets import (
    READ_ROWS,
    READ_TABLE,
    WRITE_TABLE,
    check_http_target,
    describe_target,
    drop_table,
    missing_prerequisite,
    prepare_write_table,
    seed_read_table,
)
from gracectl.config import Settings
from gracectl.errors import ConfigError, GracectlError
from gracectl.interrupts import signals_raise
from gracectl.machine import this_machine
from gracectl.native import PGBENCH_TABLE
from gracectl.state_file import recorded_profile, settings_of_running_stack
from gracectl.waiting import timeout_multiplier

log = logging.getLogger(__name__)
Notify = Callable[[str], None]
JOURNAL_NAME = "journal.json"

#: Where the search starts when --start-rate is not given (operations/s).
DEFAULT_START_RATE: dict[CapacityComponent, float] = {
    "postgres-write": 250.0,
    "postgres-read": 500.0,
    "redis": 1000.0,
    "kafka": 500.0,
    "http": 500.0,
}
MAX_STEPS_LIMIT = 30
LOCUST_PORT_OFFSET = 60
MAX_STEP_S = 300.0
#: Per step, besides the schedule: Locust's start, the backlog's drain, the exit.
STEP_SLACK_S = START_DELAY_S + 20.0


class RunInterrupted(BaseException):
    """SIGINT or SIGTERM during a capacity run; `partial`: the component being measured,
    with the steps it had, once _measure has seen the interruption."""

    partial: ComponentCapacity | None = None


def _quiet(message: str) -> None:
    pass


def capacity_run_dir(settings: Settings) -> Path:
    path = settings.home_path / "runs" / f"capacity-{time.strftime('%Y%m%d-%H%M%S')}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = path.with_name(f"capacity-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}")
    path.mkdir(parents=True)
    return path


@dataclass(frozen=True)
class _Context:
    settings: Settings
    env: dict[str, str]
    slo: Slo
    target: str | None
    step_s: float
    max_steps: int
    start_rate: float | None
    native: bool
    run_dir: Path
    notify: Notify


def check_options(
    components: list[CapacityComponent],
    step_s: float,
    max_steps: int,
    start_rate: float | None,
    target: str | None,
    allow_remote_target: bool,
) -> None:
    """ConfigError (exit 2, with a hint) for anything a run cannot start with."""
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown or not components:
        raise ConfigError(f"unknown or no component: {', '.join(unknown) or '-'}",
                          hint=f"choose from: {', '.join(COMPONENTS)}, all")  # fmt: skip
    if not 1 <= step_s <= MAX_STEP_S:
        raise ConfigError(f"--step-seconds {step_s:g}: must be within 1..{MAX_STEP_S:g}",
                          hint="e.g. --step-seconds 10")  # fmt: skip
    if not 1 <= max_steps <= MAX_STEPS_LIMIT:
        raise ConfigError(f"--max-steps {max_steps}: must be within 1..{MAX_STEPS_LIMIT}",
                          hint="e.g. --max-steps 8")  # fmt: skip
    if start_rate is not None and not start_rate > 0:
        raise ConfigError(f"--start-rate {start_rate:g}: must be > 0", hint="e.g. 200")
    if target is not None:
        check_http_target(target, allow_remote_target)


def run_capacity(
    settings: Settings,
    components: list[CapacityComponent],
    slo: Slo,
    *,
    target: str | None,
    step_s: float,
    max_steps: int,
    start_rate: float | None,
    native: bool = True,
    notify: Notify = _quiet,
    allow_remote_target: bool = False,
) -> CapacityJournal:
    """Measure each component (in the order given, each once) and write the journal."""
    components = list(dict.fromkeys(components))
    check_options(components, step_s, max_steps, start_rate, target, allow_remote_target)
    settings = settings_of_running_stack(settings)
    needs_stack = any(c != "http" for c in components)
    # Raises StackNotRunning (exit 3, "run gracectl up") when a component needs the stack.
    env = stack.connection_env(settings) if needs_stack else {}
    run_dir = capacity_run_dir(settings)
    # The stack's profile; "none" when only an http target is measured and no stack is up.
    profile = recorded_profile(settings.home_path) or "none"
    journal = CapacityJournal(start=time.time(), profile=profile, machine=this_machine())
    journal_path = run_dir / JOURNAL_NAME
    ctx = _Context(settings, env, slo, target, step_s, max_steps, start_rate, native,
                   run_dir, notify)  # fmt: skip
    notify(f"capacity run -> {journal_path} ({journal.machine.describe()}, SLO {slo.describe()})")
    with signals_raise(RunInterrupted):
        try:
            for component in components:
                journal.results.append(_measure(ctx, component))
                journal.write(journal_path)
        except RunInterrupted as exc:
            journal.interrupted = str(exc)
            done = {r.component for r in journal.results}
            if exc.partial is not None and exc.partial.component not in done:
                journal.results.append(exc.partial)
                done.add(exc.partial.component)
            journal.results.extend(
                _inconclusive(ctx, component, f"interrupted by {exc} before a conclusion")
                for component in components
                if component not in done
            )
        finally:
            journal.end = time.time()
            journal.write(journal_path)
    return journal


def _inconclusive(ctx: _Context, component: CapacityComponent, reason: str) -> ComponentCapacity:
    return ComponentCapacity(
        component=component,
        target=describe_target(component, ctx.env, ctx.target),
        unit=UNITS[component],
        status="inconclusive",
        reason=reason,
        native_error="not run",
        slo=ctx.slo,
    )


def _prepare(ctx: _Context, component: CapacityComponent) -> None:
    if component == "postgres-write":
        prepare_write_table(ctx.env["GRACE_PG_RW_DSN"])
    elif component == "postgres-read":
        seed_read_table(ctx.env["GRACE_PG_RW_DSN"], ctx.env["GRACE_PG_RO_DSN"])


def _cleanup(ctx: _Context, component: CapacityComponent) -> None:
    if component == "postgres-write":
        drop_table(ctx.env["GRACE_PG_RW_DSN"], WRITE_TABLE)
        drop_table(ctx.env["GRACE_PG_RW_DSN"], PGBENCH_TABLE)
    elif component == "postgres-read":
        drop_table(ctx.env["GRACE_PG_RW_DSN"], READ_TABLE)
    elif component == "kafka":
        # Every topic left behind keeps the brokers' replica fetchers busy: measured, idle
        # brokers used half a core after a dozen runs, and later steps came out slower.
        try:
            with KafkaBus(ctx.env["GRACE_KAFKA_BOOTSTRAP"]) as bus:
                bus.delete_topic(_kafka_topic(ctx))
        except GracectlError as exc:  # the measurement stands; say what is left behind
            log.warning("capacity: could not delete topic %s: %s", _kafka_topic(ctx), exc)


def _kafka_topic(ctx: _Context) -> str:
    return f"gracectl-capacity-{ctx.run_dir.name.removeprefix('capacity-')}"


def _run_step(
    ctx: _Context,
    component: CapacityComponent,
    index: int,
    rate: float,
    duration_s: float | None = None,
) -> RawStep:
    step_dir = ctx.run_dir / component / f"step-{index:02d}-{rate:g}"
    duration_s = duration_s or ctx.step_s
    if component == "kafka":
        return run_kafka_step(rate, duration_s, step_dir, ctx.env, _kafka_topic(ctx))
    table = {"postgres-write": WRITE_TABLE, "postgres-read": READ_TABLE}.get(component, "")
    return run_locust_step(
        component, rate, duration_s, step_dir, ctx.env,
        processes=os.cpu_count() or 1, master_ports=locust_master_ports(ctx.settings),
        table=table, read_rows=READ_ROWS,
        target=ctx.target or "",
    )  # fmt: skip


#: Seconds of the unjudged warm-up step before a component's first judged step.
WARMUP_STEP_S = 5.0


def locust_master_ports(settings: Settings) -> range:
    """Past the stack's own ports (at most ~40 with 7 Kafka brokers), in the same block."""
    return range(settings.base_port + LOCUST_PORT_OFFSET, settings.base_port + 100)


def _describe_step(component: CapacityComponent, step: StepResult) -> str:
    p99 = "-" if step.p99_ms is None else f"{step.p99_ms:.1f} ms"
    verdict = (
        "sustained"
        if step.sustained
        else "generator saturated"
        if step.generator_saturated
        else "not sustained"
    )
    return (f"{component}: offered {step.offered_rate:,.0f}/s, achieved "
            f"{step.achieved_rate:,.0f}/s, p99 {p99}, errors {step.errors}, late {step.late}, "
            f"generator CPU {step.generator_cpu:.0%}: {verdict}"
            + (f" ({step.note})" if step.note else ""))  # fmt: skip


def _search(ctx: _Context, component: CapacityComponent, steps: list[StepResult]) -> str:
    """Run the steps (appended to `steps` as they end); returns why the search stopped
    early (empty when it ran its course)."""
    plan = StepPlan(start_rate=ctx.start_rate or DEFAULT_START_RATE[component],
                    max_steps=ctx.max_steps)  # fmt: skip
    budget_s = ctx.max_steps * (ctx.step_s + STEP_SLACK_S) * timeout_multiplier()
    deadline = time.monotonic() + budget_s
    # A cold system (a JVM still compiling, empty caches, the first connections) fails a
    # first step it would sustain a minute later, and the search would never climb back:
    # one short step at half the start rate, not judged, comes first.
    warmup_rate = plan.start_rate / 2
    ctx.notify(f"{component}: warm-up at {warmup_rate:g}/s for {WARMUP_STEP_S:g} s (not judged)")
    try:
        _run_step(ctx, component, 0, warmup_rate, duration_s=min(WARMUP_STEP_S, ctx.step_s))
    except GracectlError as exc:
        return f"warm-up at {warmup_rate:g}/s could not run: {exc.message}"
    while (rate := next_rate(plan, steps)) is not None:
        if time.monotonic() > deadline:
            return f"time budget of {budget_s:.0f} s used up"
        try:
            raw = _run_step(ctx, component, len(steps) + 1, rate)
        except GracectlError as exc:
            return f"step at {rate:g}/s could not run: {exc.message}"
        step = judge_step(raw, ctx.slo)
        steps.append(step)
        ctx.notify(_describe_step(component, step))
    return ""


def _measure(ctx: _Context, component: CapacityComponent) -> ComponentCapacity:
    missing = missing_prerequisite(component, ctx.settings, ctx.target)
    if missing:
        ctx.notify(f"{component}: inconclusive: {missing}")
        return _inconclusive(ctx, component, missing)
    try:
        _prepare(ctx, component)
    except GracectlError as exc:
        return _inconclusive(ctx, component, f"could not prepare: {exc.message}")
    steps: list[StepResult] = []
    ceiling: NativeCeiling | None = None
    native_error = "not run (--no-native)"
    try:
        stopped = _search(ctx, component, steps)
        if ctx.native:
            ctx.notify(f"{component}: native tool ...")
            ceiling, native_error = native_ceiling(
                component, ctx.settings, ctx.env, ctx.step_s, kafka_topic=_kafka_topic(ctx)
            )
    except RunInterrupted as exc:
        why = f"interrupted by {exc} after {len(steps)} step(s)"
        exc.partial = _concluded(ctx, component, steps, None, "not run", interrupted=why)
        raise
    finally:
        _cleanup(ctx, component)
    result = _concluded(ctx, component, steps, ceiling, native_error, stopped=stopped)
    ctx.notify(f"{component}: {result.status}: {result.reason}")
    return result


def _concluded(
    ctx: _Context,
    component: CapacityComponent,
    steps: list[StepResult],
    ceiling: NativeCeiling | None,
    native_error: str,
    stopped: str = "",
    interrupted: str = "",
) -> ComponentCapacity:
    """The component's result from its steps (search.conclude); an interrupted search is
    inconclusive whatever its steps say."""
    conclusion = conclude(steps)
    reason = conclusion.reason + (f" (search stopped: {stopped})" if stopped else "")
    if interrupted:
        reason = f"{interrupted}; so far: {reason}"
    rate = conclusion.max_sustainable_rate
    ratio = rate / ceiling.throughput if ceiling and rate and ceiling.throughput > 0 else None
    return ComponentCapacity(
        component=component,
        target=describe_target(component, ctx.env, ctx.target),
        unit=UNITS[component],
        status="inconclusive" if interrupted else conclusion.status,
        reason=reason,
        max_sustainable_rate=rate,
        knee_rate=conclusion.knee_rate,
        generator_limit_rate=conclusion.generator_limit_rate,
        steps=steps,
        native=ceiling,
        ratio_to_native=ratio,
        native_error="" if ceiling else native_error,
        slo=ctx.slo,
    )


def components_from(names: list[str]) -> list[CapacityComponent]:
    """--component values, "all" expanded, order kept, duplicates dropped."""
    chosen: list[CapacityComponent] = []
    for name in names or ["all"]:
        if name == "all":
            chosen.extend(COMPONENTS)
            continue
        match = next((c for c in COMPONENTS if c == name), None)
        if match is None:
            raise ConfigError(f"--component {name!r}: unknown",
                              hint=f"choose from: {', '.join(COMPONENTS)}, all")  # fmt: skip
        chosen.append(match)
    return list(dict.fromkeys(chosen))
