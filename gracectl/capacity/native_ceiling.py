"""The native tool's figure beside each component's own: pgbench (single-INSERT script on the
rw endpoint, point reads on the ro endpoint's seeded table), redis-benchmark SET/GET on the
Sentinel master, Kafka's ProducerPerformance (acks=all). The tools themselves are run by
gracectl.native; this module picks the tool and its arguments for a component and turns a
failure into a sentence (a missing native figure never stops the capacity run)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from gracectl import native
from gracectl.capacity.model import CapacityComponent, NativeCeiling
from gracectl.capacity.targets import READ_TABLE
from gracectl.components.kafka import libs_dir
from gracectl.config import Settings
from gracectl.errors import GracectlError

log = logging.getLogger(__name__)

#: As measured in the field notes (8 clients); pgbench's own table (gracectl_pgbench).
PGBENCH_CLIENTS = 8
REDIS_REQUESTS = 200_000
KAFKA_RECORDS = 200_000
KAFKA_RECORD_SIZE = 100  # the kafka step pads its events to this size too
NATIVE_COMPONENTS: tuple[CapacityComponent, ...] = (
    "postgres-write", "postgres-read", "redis", "kafka",
)  # fmt: skip


def native_ceiling(
    component: CapacityComponent,
    settings: Settings,
    env: Mapping[str, str],
    duration_s: float,
    kafka_topic: str = "",
) -> tuple[NativeCeiling | None, str]:
    """(the native figure, "") or (None, why there is none)."""
    if component not in NATIVE_COMPONENTS:
        return None, f"no native tool for {component}"
    try:
        if component == "postgres-write":
            return native.pgbench_insert(env["GRACE_PG_RW_DSN"], PGBENCH_CLIENTS, duration_s), ""
        if component == "postgres-read":
            return native.pgbench_select(env["GRACE_PG_RO_DSN"], PGBENCH_CLIENTS, duration_s,
                                         table=READ_TABLE), ""  # fmt: skip
        if component == "redis":
            host, port = native.redis_master_address(env)
            return native.redis_benchmark(host, port, env.get("GRACE_REDIS_PASSWORD", ""),
                                          requests=REDIS_REQUESTS), ""  # fmt: skip
        return native.kafka_producer_performance(
            env["GRACE_KAFKA_BOOTSTRAP"], kafka_topic, KAFKA_RECORDS,
            record_size=KAFKA_RECORD_SIZE, libs_dir=libs_dir(settings.kafka),
            replication_factor=settings.kafka.replication_factor,
            min_insync_replicas=settings.kafka.min_insync_replicas,
        ), ""  # fmt: skip
    except GracectlError as exc:
        log.warning("%s: native ceiling failed: %s", component, exc.message)
        return None, exc.message
