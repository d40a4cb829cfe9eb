"""Counting a capacity step: lateness by cause, the achieved rate of users that keep up or
fall behind, processes merged, event-workload histories counted, CPU shares from samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracectl.capacity.cpu import CpuSample, busiest_utilization, machine_utilization
from gracectl.capacity.tally import (
    StepTally,
    merge_reports,
    read_reports,
    tally_event_ops,
    write_report,
)
from gracectl.history import EventOp

pytestmark = pytest.mark.unit


def test_lateness_is_split_between_system_and_generator() -> None:
    tally = StepTally(duration_s=10, late_tolerance_s=0.05)
    tally.begin("u", 100.0, planned=5, interval_s=0.1)
    tally.operation("u", 100.0, 100.001, 100.002, ok=True, busy=False)  # on time
    tally.operation("u", 100.1, 100.3, 100.301, ok=True, busy=False)  # generator held it
    tally.operation("u", 100.2, 100.4, 100.5, ok=True, busy=True)  # waited for an answer
    tally.operation("u", 100.3, 100.5, 100.6, ok=False, busy=True, error="boom")
    tally.unsent(busy=False)
    assert (tally.sent, tally.ok, tally.errors) == (5, 3, 2)
    assert (tally.late, tally.late_generator) == (4, 2)
    assert tally.latencies_ms == pytest.approx([2.0, 201.0, 300.0])
    assert tally.service_ms == pytest.approx([1.0, 1.0, 100.0])
    assert tally.errors_by_kind["boom"] == 1


def test_achieved_rate_per_user_keeps_up_or_shows_what_was_delivered() -> None:
    tally = StepTally(duration_s=10, late_tolerance_s=0.05)
    # Keeps up: 100 ops/s for 10 s, starting at its own time (users start a bit apart).
    for user, t0 in (("a", 0.0), ("b", 0.7)):
        tally.begin(user, t0, planned=1000, interval_s=0.01)
        for k in range(1000):
            planned = t0 + k * 0.01
            tally.operation(user, planned, planned, planned + 0.002, ok=True, busy=False)
    assert tally.achieved_rate() == pytest.approx(200.0)
    # Falls behind: 1000 ops planned over 10 s, answered at 50/s -> done after 20 s.
    slow = StepTally(duration_s=10, late_tolerance_s=0.05)
    slow.begin("c", 0.0, planned=1000, interval_s=0.01)
    for k in range(1000):
        slow.operation("c", k * 0.01, k * 0.02, (k + 1) * 0.02, ok=True, busy=True)
    assert slow.achieved_rate() == pytest.approx(50.0)


def test_reports_round_trip_and_merge(tmp_path: Path) -> None:
    reports = []
    for pid in (11, 12):
        tally = StepTally(duration_s=1, late_tolerance_s=0.05)
        tally.begin("u", 0.0, planned=100, interval_s=0.01)
        for k in range(100):
            tally.operation("u", k * 0.01, k * 0.01, k * 0.01 + 0.0001 * pid, ok=True, busy=False)
        reports.append(write_report(tally.report(pid, loop_blocked_ms=float(pid)), tmp_path))
    read = read_reports(tmp_path)
    assert [r.pid for r in read] == [11, 12]
    merged = merge_reports(read, offered_rate=200, duration_s=1, generator_cpu=0.4)
    assert (merged.sent, merged.ok, merged.errors) == (200, 200, 0)
    assert merged.achieved_rate == pytest.approx(200.0)
    assert merged.loop_blocked_ms == 12.0
    assert sorted(set(merged.latencies_ms)) == pytest.approx([1.1, 1.2])
    assert merged.generator_cpu == 0.4


def _produce(worker: str, seq: int, intended: float, start: float, end: float,
             outcome: str = "ok", error: str | None = None) -> EventOp:  # fmt: skip
    return EventOp(worker=worker, op="produce", key="k", seq=seq, partition="t/0",
                   intended=intended, start=start, end=end, outcome=outcome,  # type: ignore[arg-type]
                   error=error)  # fmt: skip


def test_event_ops_are_counted_like_locust_users() -> None:
    ops = [
        _produce("p0", 0, 0.00, 0.00, 0.20),  # slow answer...
        _produce("p0", 1, 0.10, 0.20, 0.21),  # ...so this late send is the system's
        _produce("p0", 2, 0.30, 0.40, 0.41),  # idle and late: the generator's
        _produce("p0", 3, 0.50, 5.00, 5.00, "fail", "not sent: backlog left when the run ended"),
        _produce("p1", 0, 0.05, 0.05, 0.06),
        _produce("p1", 1, 0.15, 0.15, 0.16),
        EventOp(
            worker="c0",
            op="consume",
            key="k",
            seq=0,
            partition="t/0",
            intended=0.0,
            start=0.0,
            end=0.1,
            outcome="ok",
        ),
    ]
    tally = tally_event_ops(ops, 1.0, 0.05, rate_per_producer=10.0, waits_for_answers=True)
    assert (tally.sent, tally.ok, tally.errors) == (6, 5, 1)
    # the unsent one (planned after p0's last answer) is the generator's too
    assert (tally.late, tally.late_generator) == (3, 2)


def test_asynchronous_producers_never_blame_the_system_for_late_sends() -> None:
    ops = [
        _produce("p0", 0, 0.00, 0.00, 0.50),
        _produce("p0", 1, 0.10, 0.60, 0.61),  # late, but nothing made it wait: the generator
    ]
    tally = tally_event_ops(ops, 1.0, 0.05, rate_per_producer=10.0)
    assert (tally.late, tally.late_generator) == (1, 1)
    assert tally.achieved_rate() == pytest.approx(2 / 0.61)


def test_cpu_shares_from_samples() -> None:
    samples = [
        CpuSample(0.0, {1: 0.0, 2: 0.0}, machine_busy_s=0.0),
        CpuSample(1.0, {1: 0.2, 2: 0.9, 3: 0.0}, machine_busy_s=1.5),
        CpuSample(2.0, {1: 0.4, 2: 1.85, 3: 0.3}, machine_busy_s=3.0),
    ]
    assert busiest_utilization(samples, 0.0, 2.0) == pytest.approx(0.925)
    assert busiest_utilization(samples, 1.0, 2.0) == pytest.approx(0.95)
    assert busiest_utilization(samples[:1], 0.0, 2.0) == 0.0
    assert machine_utilization(samples, 0.0, 2.0, cores=2) == pytest.approx(0.75)
    assert machine_utilization(samples, 5.0, 6.0, cores=2) is None
