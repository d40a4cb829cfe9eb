"""Which Kafka broker leads a partition, asked of the live cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from gracectl.errors import GracectlError

if TYPE_CHECKING:
    from gracectl.faults.actions import FaultContext


def kafka_partition_leader(ctx: FaultContext, topic: str, partition: int = 0) -> int:
    bootstrap = ",".join(c.endpoint for c in ctx.status.components if c.kind == "kafka")
    if not bootstrap:
        raise GracectlError("no Kafka broker in this stack", hint='run with bus = "kafka"')
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000})
    try:
        metadata = admin.list_topics(topic=topic, timeout=10)
    except KafkaException as exc:
        raise GracectlError(f"Kafka metadata for {topic!r} unavailable: {exc}") from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or partition not in found.partitions:
        raise GracectlError(f"Kafka topic {topic!r} partition {partition} not found")
    leader = int(found.partitions[partition].leader)
    if leader < 0:
        raise GracectlError(f"Kafka topic {topic!r} partition {partition} has no leader")
    return leader
