"""Native load tools run against the stack's own endpoints, and what they measured: pgbench
(a single-INSERT script through HAProxy's rw port, a point-read script through its ro port),
redis-benchmark (SET/GET, or XADD) on the master the Sentinels name, and Kafka's
ProducerPerformance (acks=all) on the brokers. Each run gives a NativeCeiling: the ceiling
gracectl's own load generators are compared with.

One module per tool; `tool` runs any of them (timeouts, passwords kept out of the record),
`output` parses what they print (pure). A tool that fails, times out or prints something
unreadable raises NativeToolError with the tail of its output in `details`.
"""

from gracectl.native.output import NativeToolError
from gracectl.native.pgbench import PGBENCH_TABLE, pgbench_insert, pgbench_select
from gracectl.native.producer_performance import kafka_producer_performance
from gracectl.native.redis_benchmark import (
    redis_benchmark,
    redis_benchmark_xadd,
    redis_master_address,
)
from gracectl.native.tool import run_tool

__all__ = [
    "PGBENCH_TABLE",
    "NativeToolError",
    "kafka_producer_performance",
    "pgbench_insert",
    "pgbench_select",
    "redis_benchmark",
    "redis_benchmark_xadd",
    "redis_master_address",
    "run_tool",
]
