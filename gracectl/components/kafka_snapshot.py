"""What a running Kafka KRaft cluster looks like right now: registered brokers, the active
controller, and partitions without a full ISR.

Brokers and partitions come from the cluster metadata (confluent-kafka's AdminClient). The
active controller does not: in KRaft a metadata response names a random broker as
"controller", and librdkafka cannot ask the quorum. Each voter persists its view of the Raft
election in `quorum-state`; the live voter view with the newest epoch names the leader.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._metadata import ClusterMetadata

log = logging.getLogger(__name__)

#: Seconds a metadata request may take before the cluster counts as not answering.
METADATA_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class QuorumView:
    """One voter's persisted view of the Raft election."""

    leader_id: int | None
    leader_epoch: int


@dataclass(frozen=True)
class PartitionHealth:
    """Per broker (by node id): partitions it leads, and how many of those lack a full ISR."""

    led: Mapping[int, int] = field(default_factory=dict)
    under_replicated: Mapping[int, int] = field(default_factory=dict)
    offline: int = 0


@dataclass(frozen=True)
class KafkaSnapshot:
    #: None when no broker answered a metadata request.
    registered: frozenset[int] | None
    active_controller: int | None
    partitions: PartitionHealth

    @property
    def under_replicated_total(self) -> int:
        return sum(self.partitions.under_replicated.values())


def admin_client(bootstrap: str) -> AdminClient:
    # The stubs type config values as scalars; confluent-kafka also takes a logger and callbacks.
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": int(METADATA_TIMEOUT_S * 1000),
        # Refused connections to stopped brokers are expected: keep librdkafka off stderr.
        "log_level": 2,
        "logger": log,
        "error_cb": _ignore_error,
    }
    return AdminClient(config)


def _ignore_error(err: object) -> None:
    log.debug("librdkafka reported %s.", err)


def read_quorum_view(path: Path) -> QuorumView | None:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    leader = raw.get("leaderId", -1)
    epoch = raw.get("leaderEpoch", -1)
    if not isinstance(leader, int) or not isinstance(epoch, int):
        return None
    return QuorumView(leader if leader >= 0 else None, epoch)


def active_controller(views: Iterable[QuorumView], alive: set[int]) -> int | None:
    """The leader named by the newest live view, if that leader is itself alive.

    Raft has at most one leader per epoch, so a view naming one beats a leaderless view of
    the same epoch (a follower that lost touch and is probing for an election)."""
    newest = max(views, key=lambda v: (v.leader_epoch, v.leader_id is not None), default=None)
    if newest is None or newest.leader_id not in alive:
        return None
    return newest.leader_id


def partition_health(metadata: ClusterMetadata) -> PartitionHealth:
    led: dict[int, int] = {}
    under: dict[int, int] = {}
    offline = 0
    for topic in metadata.topics.values():
        for partition in topic.partitions.values():
            if partition.leader < 0:
                offline += 1
                continue
            led[partition.leader] = led.get(partition.leader, 0) + 1
            if len(partition.isrs) < len(partition.replicas):
                under[partition.leader] = under.get(partition.leader, 0) + 1
    return PartitionHealth(led, under, offline)


def read_metadata(bootstrap: str) -> ClusterMetadata | None:
    try:
        return admin_client(bootstrap).list_topics(timeout=METADATA_TIMEOUT_S)
    except KafkaException as exc:
        log.debug("Kafka metadata request failed: %s.", exc)
        return None


def snapshot(bootstrap: str, views: Iterable[QuorumView], alive: set[int]) -> KafkaSnapshot:
    metadata = read_metadata(bootstrap)
    if metadata is None:
        return KafkaSnapshot(None, active_controller(views, alive), PartitionHealth())
    return KafkaSnapshot(
        frozenset(metadata.brokers),
        active_controller(views, alive),
        partition_health(metadata),
    )
