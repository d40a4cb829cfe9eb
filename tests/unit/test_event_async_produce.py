"""The event workload's asynchronous produce path on a fake bus that answers later: sends
keep to the schedule whatever the answer's delay, each event is recorded once, from its
answer (end = answer time, latency from the planned time), and events never answered are
indeterminate."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gracectl.bus import Ack
from gracectl.event_workload import EventWorkloadSpec
from gracectl.event_workload_read import parse_payload
from tests.unit.test_event_workload_spec import FakeBus, run_producer

pytestmark = pytest.mark.unit


class AsyncFakeBus(FakeBus):
    """Answers each produce_async `delay_s` later, from poll/flush only. Sequence numbers in
    `silent` are never answered before close (then answered `ok`, as a late delivery report
    would be); those in `refused` are answered `fail`."""

    def __init__(
        self,
        delay_s: float,
        silent: frozenset[int] = frozenset(),
        refused: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__()
        self.answer_delay_s = delay_s
        self.silent = silent
        self.refused = refused
        self.queued: list[tuple[float, Callable[[Ack], None], int]] = []
        self.held: list[Callable[[Ack], None]] = []
        self.flushed_for: list[float] = []

    def produce_async(
        self,
        key: str,
        value: str,
        on_ack: Callable[[Ack], None],
        *,
        topic: str | None = None,
        partition: int | None = None,
    ) -> None:
        payload = parse_payload(value)
        assert payload is not None
        self.sent.append((key, value))
        if payload.seq in self.silent:
            self.held.append(on_ack)
        else:
            self.queued.append((time.time() + self.answer_delay_s, on_ack, payload.seq))

    def _deliver_due(self) -> int:
        now = time.time()
        due = [q for q in self.queued if q[0] <= now]
        self.queued = [q for q in self.queued if q[0] > now]
        for _, on_ack, seq in due:
            if seq in self.refused:
                on_ack(Ack("fail", error="refused"))
            else:
                on_ack(Ack("ok", partition=seq % 2, offset=str(seq), timestamp_ms=1))
        return len(due)

    def poll(self, timeout_s: float = 0.0) -> int:
        deadline = time.time() + timeout_s
        while True:
            served = self._deliver_due()
            if served or time.time() >= deadline:
                return served
            time.sleep(0.001)

    def flush(self, timeout_s: float) -> int:
        self.flushed_for.append(timeout_s)
        deadline = time.time() + timeout_s
        while self.queued and time.time() < deadline:
            self._deliver_due()
            time.sleep(0.001)
        return len(self.queued) + len(self.held)

    def close(self) -> None:
        # A delivery report that comes after the producer gave up must not be recorded again.
        for on_ack in self.held:
            on_ack(Ack("ok", partition=0, offset="999", timestamp_ms=1))


def test_slow_answers_do_not_make_sends_late(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An answer takes 10 intervals: the sync path would be late on almost every send; the
    async one keeps to the schedule and measures the delay as latency."""
    spec = EventWorkloadSpec(producers=1, produce_rate=200, duration_s=0.5, topic="t")
    bus = AsyncFakeBus(delay_s=0.05)
    ops = run_producer(monkeypatch, tmp_path, spec, bus)
    assert sorted(op.seq for op in ops) == list(range(100))
    assert len({op.seq for op in ops}) == len(ops)
    assert all(op.outcome == "ok" and op.offset == str(op.seq) for op in ops)
    assert sum(op.late for op in ops) <= 5
    assert min(op.latency_s for op in ops) >= 0.05
    assert all(op.end >= op.start >= op.intended - 0.001 for op in ops)
    # Answers are served between sends, not all at the end.
    assert sum(op.end < ops[-1].intended for op in ops) > 50


def test_unanswered_events_are_indeterminate_once_and_refusals_fail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = EventWorkloadSpec(
        producers=1, produce_rate=100, duration_s=0.3, op_timeout_s=0.2, topic="t"
    )
    bus = AsyncFakeBus(delay_s=0.01, silent=frozenset({3, 17}), refused=frozenset({5}))
    ops = run_producer(monkeypatch, tmp_path, spec, bus)
    by_seq = {op.seq: op for op in ops}
    assert len(ops) == len(by_seq) == 30  # the late answers at close were ignored
    assert bus.flushed_for == [0.2]
    for seq in (3, 17):
        assert by_seq[seq].outcome == "info" and "no answer" in (by_seq[seq].error or "")
        assert by_seq[seq].offset is None
    assert by_seq[5].outcome == "fail" and by_seq[5].error == "refused"
    assert sum(op.outcome == "ok" for op in ops) == 27


def test_padded_payloads_reach_the_bus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = EventWorkloadSpec(producers=1, produce_rate=100, duration_s=0.05, payload_bytes=100)
    bus = AsyncFakeBus(delay_s=0.0)
    run_producer(monkeypatch, tmp_path, spec, bus)
    assert bus.sent and all(len(value) == 100 for _, value in bus.sent)
    assert all(parse_payload(value) is not None for _, value in bus.sent)
