"""Parsing the native load tools' output (captured from real runs on a dev stack with Kafka,
2-core machine, 2026-11-27), malformed output as errors, and the errors raised before a tool
runs (missing binary, bad names, an unreachable Redis) without any stack."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest

from gracectl.errors import EXIT_COULD_NOT_RUN, EXIT_USAGE, ConfigError, EnvironmentProblem
from gracectl.native import (
    kafka_producer_performance,
    pgbench_insert,
    redis_benchmark,
    redis_benchmark_xadd,
    run_tool,
)
from gracectl.native.output import (
    NativeToolError,
    parse_pgbench,
    parse_producer_performance,
    parse_redis_benchmark_csv,
    percentile,
    pgbench_latencies_ms,
)

pytestmark = pytest.mark.unit

# pgbench -n -f ins.sql -c 4 -j 2 -T 3 (single INSERT through HAProxy's rw port)
PGBENCH_INSERT = """\
pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: ins.sql
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 3 s
number of transactions actually processed: 9421
number of failed transactions: 0 (0.000%)
latency average = 1.267 ms
initial connection time = 19.040 ms
tps = 3157.478441 (without initial connection time)
"""
# The same with a script on a missing table: stdout stops before any figure (exit 2).
PGBENCH_ABORTED = """\
pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: bad.sql
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 1
maximum number of tries: 1
duration: 1 s
number of transactions actually processed: 0
number of failed transactions: 0 (NaN%)
"""
# pgbench -l: client_id transaction_no time(us) script_no time_epoch time_us
PGBENCH_LOG = """\
0 1 3290 0 1795777968 811165
1 1 3277 0 1795777968 811178
1 2 1023 0 1795777968 812371
2 1 1693 0 1795777968 809542
2 2 1615 0 1795777968 811171
3 1 2274 0 1795777968 811178
2 3 1408 0 1795777968 812588
"""
# redis-benchmark -c 50 -n 100000 -t set,get --csv (Redis 7.0.15)
REDIS_SET_GET = """\
"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","58582.31","0.542","0.152","0.431","1.183","2.039","6.775"
"GET","55370.98","0.538","0.112","0.415","1.383","2.143","9.167"
"""
# redis-benchmark -c 50 -n 50000 --csv XADD gracectl-bench '*' k key v <40 bytes>
REDIS_XADD = """\
"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"XADD gracectl-bench * k key v 0123456789012345678901234567890123456789","58823.53","0.662","0.168","0.607","1.095","1.831","12.127"
"""  # noqa: E501
# What redis-benchmark printed when the port answered but was not Redis (HAProxy's stats).
REDIS_NOT_REDIS = """\
"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"""
# ProducerPerformance --num-records 200000 --record-size 100 --throughput -1 acks=all
PRODUCER_PERFORMANCE = """\
10656 records sent, 2113.0 records/sec (0.20 MB/sec), 2280.5 ms avg latency, 2829.0 ms max latency.
36995 records sent, 7340.3 records/sec (0.70 MB/sec), 4152.4 ms avg latency, 5397.0 ms max latency.
86870 records sent, 17060.1 records/sec (1.63 MB/sec), 6491.5 ms avg latency, 7804.0 ms max latency.
200000 records sent, 11145.2 records/sec (1.06 MB/sec), 6326.29 ms avg latency, 9006.00 ms max latency, 6849 ms 50th, 8556 ms 95th, 8934 ms 99th, 9006 ms 99.9th.
"""  # noqa: E501
# --record-size 2000000: every record refused (RecordTooLargeException on stderr), exit 0.
PRODUCER_PERFORMANCE_NONE = """\
0 records sent, 0.0 records/sec (0.00 MB/sec), NaN ms avg latency, 0.00 ms max latency, 0 ms 50th, 0 ms 95th, 0 ms 99th, 0 ms 99.9th.
"""  # noqa: E501
PRODUCER_PERFORMANCE_STDERR = """\
org.apache.kafka.common.errors.TimeoutException: Topic nosuch-topic not present in metadata after 3000 ms.
Caused by: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.
"""  # noqa: E501


def test_pgbench_report() -> None:
    summary = parse_pgbench(PGBENCH_INSERT)
    assert summary.tps == pytest.approx(3157.478441)  # not the one with connection time
    assert (summary.transactions, summary.failed, summary.latency_avg_ms) == (9421, 0, 1.267)


@pytest.mark.parametrize(
    "output",
    [
        PGBENCH_ABORTED,
        "",
        PGBENCH_INSERT.replace("tps = 3157", "tps = ???"),
        PGBENCH_INSERT.split("latency")[0],
    ],
)
def test_pgbench_report_without_tps_is_an_error(output: str) -> None:
    with pytest.raises(NativeToolError) as caught:
        parse_pgbench(output)
    assert caught.value.exit_code == EXIT_COULD_NOT_RUN
    assert "no tps" in caught.value.message
    assert caught.value.details == output.strip()[-len(caught.value.details) :]


def test_pgbench_log_latencies_and_p99() -> None:
    lines = PGBENCH_LOG.splitlines()
    # Per pgbench's docs a skipped or failed transaction has a word in the time column.
    lines += ["0 9 skipped 0 1795777968 811999", "1 9 failed 0 1795777968 811999", "garbage"]
    latencies = pgbench_latencies_ms(lines)
    assert latencies == [3.29, 3.277, 1.023, 1.693, 1.615, 2.274, 1.408]
    assert percentile(latencies, 0.99) == 3.29
    assert percentile(latencies, 0.5) == 1.693
    assert percentile([], 0.99) is None
    assert percentile(list(map(float, range(1, 101))), 0.99) == 99.0


def test_redis_benchmark_csv() -> None:
    set_row, get_row = parse_redis_benchmark_csv(REDIS_SET_GET)
    assert (set_row.test, set_row.requests_per_s, set_row.p99_ms) == ("SET", 58582.31, 2.039)
    assert (get_row.p50_ms, get_row.max_ms, get_row.avg_ms) == (0.415, 9.167, 0.538)
    (xadd,) = parse_redis_benchmark_csv(REDIS_XADD)
    assert xadd.test.startswith("XADD gracectl-bench *") and xadd.requests_per_s == 58823.53


def test_redis_benchmark_csv_without_latency_columns() -> None:
    """Redis 6's CSV (hand-written: "test","rps" only) still gives a throughput."""
    (row,) = parse_redis_benchmark_csv('"SET","105263.16"\n')
    assert row.requests_per_s == 105263.16 and row.p99_ms is None


@pytest.mark.parametrize(
    "output",
    [
        REDIS_NOT_REDIS,
        "",
        "ERROR: failed to fetch reply from 127.0.0.1:13508\n",
        REDIS_SET_GET.replace("58582.31", "fast"),
        REDIS_SET_GET + '"PING"\n',
    ],
)
def test_malformed_redis_benchmark_csv_is_an_error(output: str) -> None:
    with pytest.raises(NativeToolError):
        parse_redis_benchmark_csv(output)


def test_producer_performance_summary() -> None:
    summary = parse_producer_performance(PRODUCER_PERFORMANCE)
    assert summary.records == 200_000  # the final line, not a progress line
    assert summary.records_per_s == 11145.2 and summary.mb_per_s == 1.06
    assert (summary.avg_ms, summary.max_ms) == (6326.29, 9006.0)
    assert (summary.p50_ms, summary.p95_ms, summary.p99_ms, summary.p999_ms) == (
        6849,
        8556,
        8934,
        9006,
    )


def test_producer_performance_with_nothing_acknowledged() -> None:
    summary = parse_producer_performance(PRODUCER_PERFORMANCE_NONE)
    assert summary.records == 0 and math.isnan(summary.avg_ms)


@pytest.mark.parametrize(
    "output",
    [
        "",
        PRODUCER_PERFORMANCE.rsplit("\n", 2)[0],  # progress lines only (killed midway)
        PRODUCER_PERFORMANCE_STDERR,
        PRODUCER_PERFORMANCE.replace("11145.2 records/sec", "NaN records/sec"),
    ],
)
def test_producer_performance_without_summary_is_an_error(output: str) -> None:
    with pytest.raises(NativeToolError) as caught:
        parse_producer_performance(output)
    assert "no summary line" in caught.value.message


# -- before a tool runs ----------------------------------------------------------------------
def test_missing_pgbench_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        pgbench_insert("postgresql://u:p@127.0.0.1:1/db", 2, 1, bin_dir=tmp_path)
    assert caught.value.exit_code == EXIT_USAGE and "setup.sh" in caught.value.hint


def test_missing_kafka_jars_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        kafka_producer_performance("127.0.0.1:1", "t", 10, libs_dir=tmp_path)
    assert "kafka-tools" in caught.value.message and "setup.sh" in caught.value.hint


@pytest.mark.parametrize(
    "call",
    [
        lambda: pgbench_insert("postgresql://u:p@127.0.0.1:1/db", 2, 1, table="x; drop"),
        lambda: pgbench_insert("postgresql://u:p@127.0.0.1:1/db", 0, 1),
        lambda: redis_benchmark("127.0.0.1", 1, "pw", tests="set;flushall"),
        lambda: redis_benchmark_xadd("127.0.0.1", 1, "pw", stream="bad stream"),
        lambda: kafka_producer_performance("127.0.0.1:1", "t", 10, acks="most", libs_dir=Path()),
    ],
)
def test_bad_arguments_are_config_errors(call: object) -> None:
    with pytest.raises(ConfigError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize("tool", [redis_benchmark, redis_benchmark_xadd])
def test_unreachable_redis_fails_fast_without_leaking_the_password(tool: object) -> None:
    """redis-benchmark spins forever on a refused connection (seen: 8 min at 100 % CPU), so
    the Redis is checked first."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = sock.getsockname()[1]
        with pytest.raises(NativeToolError) as caught:
            tool("127.0.0.1", port, "s3cret-pw", requests=10)  # type: ignore[operator]
    error = caught.value
    assert f"127.0.0.1:{port}" in error.message and error.exit_code == EXIT_COULD_NOT_RUN
    assert "s3cret-pw" not in f"{error.message} {error.hint} {error.details}"


def test_a_failing_tool_reports_its_stderr_tail_without_the_secret() -> None:
    script = (
        "for i in $(seq 1 30); do echo line-$i >&2; done; echo 'auth pw-123 refused' >&2; exit 3"
    )
    with pytest.raises(NativeToolError) as caught:
        run_tool("fake-tool", ["sh", "-c", script], 10, secret="pw-123")
    error = caught.value
    assert error.message == "fake-tool exited 3: auth *** refused"
    assert error.details.splitlines()[0] == "line-17" and error.details.endswith("auth *** refused")


def test_a_stuck_tool_is_killed_at_its_timeout() -> None:
    with pytest.raises(NativeToolError, match="no result within 1 s"):
        run_tool("fake-tool", ["sh", "-c", "echo started >&2; exec sleep 30"], 1)


def test_a_missing_tool_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem):
        run_tool("fake-tool", ["/nonexistent/tool"], 1)
