"""Run a scenario: steady state, load, faults at their times, rollback, checks, journal.

The rollback always runs: in `finally`, and on SIGINT/SIGTERM (turned into an exception so
the same path runs). Faults are in the ledger before they are applied, so even a SIGKILLed
gracectl leaves enough behind for the next command to heal them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from gracectl import stack
from gracectl.config import Settings
from gracectl.errors import GracectlError
from gracectl.faults.actions import FaultContext, inject
from gracectl.faults.ledger import AppliedFault, Ledger, heal, heal_pending
from gracectl.history import FaultWindow
from gracectl.interrupts import signals_raise
from gracectl.journal import ActionRecord, Journal, SteadyState
from gracectl.layout import Layout
from gracectl.loads import PostgresLoad, RunLoad, start_load
from gracectl.machine import this_machine
from gracectl.processes import ProcessRecord, record
from gracectl.scenario import FaultStep, Scenario
from gracectl.status import StackStatus
from gracectl.supervisor import Supervisor

log = logging.getLogger(__name__)
Notify = Callable[[str], None]


class RunInterrupted(BaseException):
    """SIGINT or SIGTERM during a run: unwind through the rollback."""


@dataclass
class _Run:
    settings: Settings
    scenario: Scenario
    journal: Journal
    run_dir: Path
    notify: Notify
    applied: list[tuple[FaultStep, AppliedFault, float]] = field(default_factory=list)
    windows: list[FaultWindow] = field(default_factory=list)
    owner: ProcessRecord | None = None


def run_dir_for(settings: Settings, scenario: Scenario) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = settings.home_path / "runs" / f"{stamp}-{scenario.name}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def steady_state(settings: Settings, scenario: Scenario) -> SteadyState:
    try:
        status = stack.status(settings)
    except GracectlError as exc:
        return SteadyState(ok=False, probes={}, detail=exc.message)
    probes: dict[str, bool] = {}
    details: list[str] = []
    for probe in scenario.steady_state:
        if probe == "all_members_running":
            down = [c.name for c in status.components if c.state != "running"]
            probes[probe] = not down
            if down:
                details.append(f"not running: {', '.join(down)}")
        elif probe == "replicas_streaming":
            lagging = [
                c.name
                for c in status.by_kind("postgres")
                if c.role != "leader" and c.state != "running"
            ]
            probes[probe] = not lagging
        elif probe == "postgres_writable":
            probes[probe] = _writable(settings)
    ok = all(probes.values())
    return SteadyState(ok=ok, probes=probes, detail="; ".join(details))


def _writable(settings: Settings) -> bool:
    env = stack.connection_env(settings)
    try:
        with psycopg.connect(env["GRACE_PG_RW_DSN"], connect_timeout=3) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            return row is not None and row[0] is False
    except psycopg.Error:
        return False


def run_scenario(settings: Settings, scenario: Scenario, notify: Notify = log.info) -> Journal:
    """Run `scenario` against the live stack under `settings.home`; always returns a journal
    (written to disk) unless the stack is not there at all."""
    settings = stack.settings_of_running_stack(settings)
    layout = Layout(settings.home_path)
    heal_pending(layout)
    status = stack.status(settings)  # raises StackNotRunning when there is no stack
    run_dir = run_dir_for(settings, scenario)
    journal = Journal(
        scenario=scenario.model_dump(mode="json"),
        start=time.time(),
        profile=settings.profile,
        bus=scenario.bus or settings.bus,
        replication_mode=scenario.replication_mode or settings.postgres.replication_mode,
        history_path=str(run_dir / "history"),
        machine=this_machine(),
    )
    run = _Run(settings, scenario, journal, run_dir, notify, owner=record("gracectl", os.getpid()))
    with signals_raise(RunInterrupted):
        try:
            _execute(run, status)
        except RunInterrupted as exc:
            journal.status = "interrupted"
            journal.reason = f"interrupted by {exc}; faults healed"
        except GracectlError as exc:
            journal.status = "aborted"
            journal.reason = exc.message
        finally:
            try:
                _rollback(run)
            except RunInterrupted as exc:
                journal.status = "interrupted"
                journal.reason = (f"rollback interrupted by {exc}: the next gracectl command "
                                  "heals what is left (see its ledger)")
            journal.end = time.time()
            journal.write(run_dir / "journal.json")
    return journal


def _action(
    run: _Run, name: str, started: float, target: str | None = None, ok: bool = True, note: str = ""
) -> None:
    run.journal.actions.append(
        ActionRecord(name=name, target=target, started=started, ended=time.time(), ok=ok, note=note)
    )
    run.notify(note or name)


def _execute(run: _Run, status: StackStatus) -> None:
    scenario, settings = run.scenario, run.settings
    if scenario.replication_mode and scenario.replication_mode != status.replication_mode:
        started = time.time()
        run.settings = stack.set_replication_mode(
            settings, scenario.replication_mode, scenario.rollback.heal_timeout_s
        )
        _action(
            run,
            "replication_mode",
            started,
            note=f"PostgreSQL replication set to {scenario.replication_mode} for this run",
        )

    # Redis Streams rides on the Redis + Sentinel every stack has; Kafka needs its brokers.
    if scenario.bus == "kafka" and run.settings.bus != "kafka":
        run.journal.status = "aborted"
        run.journal.reason = (
            f"scenario needs the kafka bus; this stack runs {run.settings.bus} "
            "(bring it up with GRACECTL_BUS=kafka)"
        )
        return
    started = time.time()
    before = steady_state(run.settings, scenario)
    run.journal.steady_states["before"] = before
    _action(
        run,
        "steady_state.before",
        started,
        ok=before.ok,
        note=f"steady state before: {'met' if before.ok else 'NOT met: ' + before.detail}",
    )
    if not before.ok:
        run.journal.status = "aborted"
        run.journal.reason = f"steady state not met before the fault: {before.detail}"
        return

    load = start_load(run.run_dir, scenario, run.settings)
    t0 = time.time()
    _action(run, "load.start", t0, note=f"load started: {load.description}")
    try:
        _drive_faults(run, t0, load)
        load.wait(timeout_s=scenario.duration_s + 60)
    finally:
        load.stop()
        run.journal.history_path = str(load.history_dir)
        if isinstance(load, PostgresLoad):
            run.journal.locust_stats_path = str(load.stats_path)
    _heal_all(run)
    started = time.time()
    stack.wait_healthy(run.settings, scenario.rollback.heal_timeout_s)
    _action(run, "rollback.healthy", started, note="cluster healthy again, every member running")
    started = time.time()
    note = load.conclude(run.journal, scenario, run.windows)
    _action(run, "final_read", started, note=note)


def _drive_faults(run: _Run, t0: float, load: RunLoad) -> None:
    """Fire each fault at its time; heal timed faults when their duration is up."""
    layout = Layout(run.settings.home_path)
    pending = sorted(run.scenario.faults, key=lambda f: f.at_s)
    timed: list[tuple[float, AppliedFault, int]] = []
    deadline = t0 + run.scenario.duration_s
    while (pending or timed) and time.time() < deadline + 5:
        now = time.time() - t0
        if pending and now >= pending[0].at_s:
            step = pending.pop(0)
            ctx = FaultContext(
                run.settings,
                layout,
                Supervisor(layout),
                stack.status(run.settings),
                owner=run.owner,
                workload=load.records(),
                topic=load.topic,
                consumer_pids=load.consumer_pids(),
            )
            started = time.time()
            applied = inject(ctx, step.fault, step.target)
            run.windows.append(
                FaultWindow(name=step.fault, target=applied.target, start=applied.at)
            )
            run.applied.append((step, applied, started))
            _action(
                run,
                step.fault,
                started,
                target=applied.target,
                note=f"{step.fault}: {applied.action} {applied.target} at {applied.at - t0:.3f} s",
            )
            if step.duration_s:
                timed.append((t0 + step.at_s + step.duration_s, applied, len(run.windows) - 1))
        for item in [t for t in timed if time.time() >= t[0]]:
            timed.remove(item)
            _heal_one(run, item[1], item[2])
        time.sleep(0.01)


def _heal_one(run: _Run, applied: AppliedFault, window_index: int | None) -> None:
    layout = Layout(run.settings.home_path)
    started = time.time()
    note = heal(layout, applied)
    Ledger(layout).remove(applied.id)
    if window_index is not None:
        window = run.windows[window_index]
        run.windows[window_index] = window.model_copy(update={"end": time.time()})
    run.journal.rollbacks.append(
        ActionRecord(
            name=f"heal {applied.fault}",
            target=applied.target,
            started=started,
            ended=time.time(),
            note=note,
        )
    )
    run.notify(note)


def _heal_all(run: _Run) -> None:
    layout = Layout(run.settings.home_path)
    pending_ids = {f.id for f in Ledger(layout).pending()}
    for index, (_, applied, _) in enumerate(run.applied):
        if applied.id in pending_ids:
            _heal_one(run, applied, index)


def _rollback(run: _Run) -> None:
    """Always runs: heal what is left, wait for health, restore the replication mode."""
    try:
        _heal_all(run)
        heal_pending(Layout(run.settings.home_path))
        if run.journal.status != "completed":
            stack.wait_healthy(run.settings, run.scenario.rollback.heal_timeout_s)
        original = stack.settings_of_running_stack(run.settings)
        if original.postgres.replication_mode != run.settings.postgres.replication_mode:
            started = time.time()
            stack.set_replication_mode(
                original, original.postgres.replication_mode, run.scenario.rollback.heal_timeout_s
            )
            run.journal.rollbacks.append(
                ActionRecord(
                    name="replication_mode",
                    started=started,
                    ended=time.time(),
                    note=f"replication restored to {original.postgres.replication_mode}",
                )
            )
        after = steady_state(original, run.scenario)
        run.journal.steady_states["after"] = after
        if not after.ok and run.journal.status == "completed":
            run.journal.status = "failed"
            run.journal.reason = f"steady state not met after rollback: {after.detail}"
    except GracectlError as exc:
        run.journal.status = "failed"
        run.journal.reason = f"rollback incomplete: {exc.message}"
        run.notify(run.journal.reason)
