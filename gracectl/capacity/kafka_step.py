"""One capacity step of the kafka component: the event workload (gracectl.event_workload,
producers only) at the step's rate, its produce history counted like Locust's operations.

The producers' first sends pay for the client's set-up (a connection to each partition
leader, the idempotent producer's id): measured, up to ~0.5 s for the first events. The
schedule runs WARMUP_S longer and the events planned in its first WARMUP_S are not counted,
as Locust users open their connections before their schedule starts."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from gracectl.capacity.cpu import CpuSampler, busiest_utilization, machine_utilization
from gracectl.capacity.locust_step import LATE_TOLERANCE_S, OP_TIMEOUT_S, CapacityError
from gracectl.capacity.search import RawStep
from gracectl.capacity.tally import tally_event_ops
from gracectl.event_workload import EventWorkload, EventWorkloadSpec, read_event_ops

#: Producers send asynchronously (many events in flight); they are threads of one process
#: and share its interpreter lock, so a few are enough.
PER_PRODUCER_RATE = 2000.0
MIN_PRODUCERS, MAX_PRODUCERS = 2, 8
PARTITIONS = 3
#: Like Kafka's ProducerPerformance run beside it (record size 100).
PAYLOAD_BYTES = 100
WARMUP_S = 1.0


def producers_for(rate: float) -> int:
    return min(MAX_PRODUCERS, max(MIN_PRODUCERS, math.ceil(rate / PER_PRODUCER_RATE)))


def run_kafka_step(
    rate: float, duration_s: float, run_dir: Path, connection: Mapping[str, str], topic: str
) -> RawStep:
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = EventWorkloadSpec(
        producers=producers_for(rate), produce_rate=rate, consumers=0, topic=topic,
        partitions=PARTITIONS, duration_s=duration_s + WARMUP_S, op_timeout_s=OP_TIMEOUT_S,
        late_tolerance_s=LATE_TOLERANCE_S, drain_s=0.0, payload_bytes=PAYLOAD_BYTES,
    )  # fmt: skip
    load = EventWorkload(spec, connection, run_dir)
    with load:
        assert load.pid is not None
        with CpuSampler(load.pid) as sampler:
            result = load.wait()
    ops = list(read_event_ops(result.history_dir))
    produced = [op for op in ops if op.op == "produce"]
    if produced:
        warm_from = min(op.intended for op in produced) + WARMUP_S
        produced = [op for op in produced if op.intended >= warm_from]
    if not produced:
        raise CapacityError(
            f"capacity: kafka step at {rate:g}/s produced nothing (exit {result.exit_code})",
            hint=f"see {result.output_path}",
        )
    tally = tally_event_ops(produced, duration_s, LATE_TOLERANCE_S, spec.rate_per_producer)
    start = min(op.intended for op in produced)
    window = (start + 0.5, start + duration_s)
    report = tally.report(load.pid, loop_blocked_ms=None)
    return RawStep(
        offered_rate=rate,
        duration_s=duration_s,
        sent=report.sent,
        ok=report.ok,
        errors=report.errors,
        late=report.late,
        late_generator=report.late_generator,
        achieved_rate=report.achieved_rate,
        latencies_ms=report.latencies_ms,
        service_ms=report.service_ms,
        generator_cpu=busiest_utilization(sampler.samples, *window),
        machine_cpu=machine_utilization(sampler.samples, *window, os.cpu_count() or 1),
        started=start,
        ended=report.last_end or start,
        error_examples=report.error_examples,
    )
