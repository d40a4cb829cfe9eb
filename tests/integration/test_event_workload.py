"""The event workload on a real dev stack (Redis Streams): two producer threads at 100
events/s for 10 s and two consumer processes in a group, one of them SIGKILLed mid-run. Every
acknowledged event must be in the log, and every stored event consumed at least once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gracectl.checks.events import (
    acked_event_ids,
    duplicate_events,
    lost_acked_events,
    out_of_order_events,
    stored_event_ids,
    unconsumed_events,
    unexpected_events,
)
from gracectl.event_workload import (
    EventWorkload,
    EventWorkloadSpec,
    final_event_read,
    read_event_ops,
)
from gracectl.history import EventOp, read_event_history
from gracectl.processes import live_process
from gracectl.waiting import wait_until
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration

SPEC = EventWorkloadSpec(
    producers=2,
    produce_rate=100,
    consumers=2,
    consumer_processes=True,
    topic="workload-events",
    group="workload-group",
    partitions=3,
    duration_s=10,
    keys=8,
)

VICTIM_EVENTS = 100  # about 2 s into the run at 50 events/s each


def consumed_by(history_dir: Path, consumer: str) -> int:
    path = history_dir / f"{consumer}.jsonl"
    return sum(1 for _ in read_event_history(path)) if path.exists() else 0


def kill_one_consumer(workload: EventWorkload) -> tuple[str, float]:
    """SIGKILL consumer-0 mid-run, once both consumers have received events (the victim at
    least VICTIM_EVENTS); (name, when)."""
    assert wait_until(lambda: len(workload.consumer_pids()) == 2, timeout_s=15), "no consumers"
    assert wait_until(
        lambda: (
            consumed_by(workload.history_dir, "consumer-0") >= VICTIM_EVENTS
            and consumed_by(workload.history_dir, "consumer-1") > 0
        ),
        timeout_s=SPEC.duration_s / 2,
    ), "consumers received too little"
    victim = next(r for r in workload.consumer_records() if r.name == "consumer-0")
    proc = live_process(victim)
    assert proc is not None
    proc.kill()
    killed_at = time.time()
    # Its parent (the load) reaps it later: until then it is a zombie, which is not live.
    assert wait_until(lambda: live_process(victim) is None, timeout_s=5)
    return victim.name, killed_at


def test_event_workload_survives_a_killed_consumer(sandbox: Sandbox, tmp_path: Path) -> None:
    up = sandbox.run("up", "--profile", "dev", timeout=300, GRACECTL_BUS="redis-streams")
    assert up.code == 0, up.stderr
    env_result = sandbox.run("env", "--json")
    assert env_result.code == 0, env_result.stderr
    env = json.loads(env_result.stdout)

    started = time.monotonic()
    with EventWorkload(SPEC, env, tmp_path) as workload:
        assert wait_until(lambda: workload.consumers_path.exists(), timeout_s=15)
        records = workload.records()
        assert len(records) == 3, records  # the load and its two consumer processes
        victim, killed_at = kill_one_consumer(workload)
        assert len(workload.consumer_pids()) == 1
        result = workload.wait()
    elapsed = time.monotonic() - started
    assert result.ok and not result.stopped, result.output_path.read_text()
    assert not any(live_process(r) for r in records), "a workload process outlived it"

    ops = list(read_event_ops(workload.history_dir))
    produces = [op for op in ops if op.op == "produce"]
    consumes = [op for op in ops if op.op == "consume"]
    final = final_event_read(env, SPEC.topic)

    acked = acked_event_ids(produces)
    assert len(produces) == SPEC.expected_events
    assert len(acked) == len(produces), [op for op in produces if op.outcome != "ok"][:5]
    assert not lost_acked_events(produces, final)
    assert not unexpected_events(produces, final)
    assert not duplicate_events(final)
    assert not out_of_order_events(final)
    assert stored_event_ids(final) == acked
    assert set(final.partitions) == {f"{SPEC.topic}/{p}" for p in range(SPEC.partitions)}
    assert not unconsumed_events(stored_event_ids(final), consumes)

    # After the kill, the survivor took everything: what was produced later, and whatever
    # the victim had read but not yet acknowledged (XAUTOCLAIM).
    survivor = {op.event_id for op in consumes if op.worker != victim}
    later = {op.event_id for op in produces if op.start > killed_at + 0.5}
    assert later and later <= survivor
    late_share = sum(op.late for op in produces) / len(produces)
    assert late_share < 0.05, late_share
    print(summary(produces, consumes, elapsed, victim))


def summary(produces: list[EventOp], consumes: list[EventOp], elapsed: float, victim: str) -> str:
    by_producer: dict[str, list[EventOp]] = {}
    for op in produces:
        by_producer.setdefault(op.worker, []).append(op)
    rates = {
        name: round((len(ops) - 1) / (ops[-1].start - ops[0].start), 1)
        for name, ops in sorted(by_producer.items())
    }
    latencies = sorted(op.latency_s for op in produces)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    per_consumer: dict[str, int] = {}
    for op in consumes:
        per_consumer[op.worker] = per_consumer.get(op.worker, 0) + 1
    return (
        f"run {elapsed:.1f} s; produce rates {rates}; p99 latency {p99 * 1000:.1f} ms; "
        f"consumed {per_consumer} ({victim} killed)"
    )
