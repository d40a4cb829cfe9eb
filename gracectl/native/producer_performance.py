"""Kafka's own ProducerPerformance (the kafka-tools jar, a small JVM heap) on the brokers, on a
topic created like gracectl's event topics."""

from __future__ import annotations

import shlex
from pathlib import Path

from gracectl.bus.kafka_bus import KafkaBus
from gracectl.capacity.model import NativeCeiling
from gracectl.errors import ConfigError, EnvironmentProblem
from gracectl.native.output import NativeToolError, parse_producer_performance, tail
from gracectl.native.tool import (
    BUS_NAME,
    SETUP_HINT,
    SLACK_S,
    find_binary,
    require_positive,
    run_tool,
)
from gracectl.waiting import timeout_multiplier

PRODUCER_PERFORMANCE_MAIN = "org.apache.kafka.tools.ProducerPerformance"


def kafka_producer_performance(
    bootstrap: str,
    topic: str,
    records: int,
    record_size: int = 100,
    acks: str = "all",
    throughput: int = -1,
    *,
    libs_dir: Path,
    partitions: int = 3,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    heap_mb: int = 256,
    timeout_s: float | None = None,
) -> NativeCeiling:
    """Kafka's ProducerPerformance (the jars of `libs_dir`, a small JVM heap): `records`
    records of `record_size` bytes, `throughput` -1 = as fast as it can. The topic is created
    first like gracectl's event topics (KafkaBus.create_topic: `replication_factor` and
    `min_insync_replicas`, None = the brokers' defaults, which gracectl sets to the
    cluster's)."""
    for name, value in (("records", records), ("record_size", record_size)):
        require_positive(name, value)
    if not BUS_NAME.match(topic):
        raise ConfigError(f"bad topic name {topic!r}", hint="letters, digits, . _ -")
    if acks not in ("all", "-1", "0", "1"):
        raise ConfigError(f"bad acks {acks!r}", hint="one of all, -1, 0, 1")
    java = find_binary("java", "ProducerPerformance")
    if not any(libs_dir.glob("kafka-tools-*.jar")):
        raise EnvironmentProblem(
            f"ProducerPerformance: no kafka-tools jar in {libs_dir}", hint=SETUP_HINT
        )
    bus = KafkaBus(
        bootstrap,
        topic=topic,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
    )
    with bus:
        bus.create_topic(topic, partitions)
    argv = [
        java, f"-Xmx{heap_mb}m", "-cp", f"{libs_dir}/*", PRODUCER_PERFORMANCE_MAIN,
        "--topic", topic, "--num-records", str(records), "--record-size", str(record_size),
        "--throughput", str(throughput),
        "--producer-props", f"bootstrap.servers={bootstrap}", f"acks={acks}",
    ]  # fmt: skip
    # Assume at least 1,000 records/s (a throttled run: its rate) before calling it stuck.
    rate = throughput if throughput > 0 else 1000
    bound = timeout_s or (SLACK_S + records / min(rate, 1000)) * timeout_multiplier()
    output, stderr = run_tool(
        "ProducerPerformance", argv, bound, hint="are the brokers up? `gracectl status`"
    )
    try:
        summary = parse_producer_performance(output)
    except NativeToolError as exc:
        raise NativeToolError(exc.message, hint=exc.hint, details=tail(stderr + output)) from exc
    if summary.records == 0:
        raise NativeToolError(
            "ProducerPerformance: no record was acknowledged",
            hint="see the details for the producer's errors",
            details=tail(stderr + output),
        )
    errors = sum("Exception" in line for line in stderr.splitlines())
    notes = []
    if summary.records < records:
        notes.append(f"only {summary.records} of {records} acknowledged")
    if errors:
        notes.append(f"{errors} exception line(s) on stderr")
    return NativeCeiling(
        tool="kafka-producer-perf",
        command=shlex.join(argv),
        throughput=summary.records_per_s,
        unit="events/s",
        p99_ms=summary.p99_ms,
        detail="; ".join(
            [
                f"{summary.records} records of {record_size} B, acks={acks}, throughput "
                f"{'unthrottled' if throughput < 0 else throughput}, topic {topic} "
                f"({partitions} partitions)",
                f"{summary.mb_per_s:g} MB/s",
                f"latency avg {summary.avg_ms:g} / p50 {summary.p50_ms:g} / p95 "
                f"{summary.p95_ms:g} / p99 {summary.p99_ms:g} / p99.9 {summary.p999_ms:g} / "
                f"max {summary.max_ms:g} ms (from send() to ack: includes time queued in "
                "the producer's buffer)",
                *notes,
            ]
        ),
    )

