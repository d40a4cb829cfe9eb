"""redis-benchmark on the master the Sentinels name: its built-in SET/GET tests, or XADD with
the fields gracectl's Redis Streams bus writes. redis-benchmark 7.0 reads no password from its
environment (REDISCLI_AUTH is redis-cli's only: NOAUTH), so it gets `-a`; the recorded
command shows `-a ***`, and the password is blanked from anything raised."""

from __future__ import annotations

import logging
import re
import shlex
import statistics
from collections.abc import Mapping

import redis

from gracectl.bus.factory import parse_endpoints
from gracectl.bus.redis_streams import sentinel_client
from gracectl.capacity.model import NativeCeiling
from gracectl.errors import ConfigError
from gracectl.native.output import NativeToolError, RedisBenchmarkRow, parse_redis_benchmark_csv
from gracectl.native.tool import (
    BUS_NAME,
    SLACK_S,
    STACK_HINT,
    find_binary,
    require_positive,
    run_tool,
)
from gracectl.waiting import timeout_multiplier

log = logging.getLogger(__name__)

XADD_STREAM = "gracectl-bench"
_REDIS_TESTS = re.compile(r"^[a-z_]+(,[a-z_]+)*$")


def redis_master_address(env: Mapping[str, str]) -> tuple[str, int]:
    """The Redis master's (host, port) as the Sentinels name it, from the stack's connection
    environment (`gracectl env`: GRACE_REDIS_SENTINELS, GRACE_REDIS_MASTER_NAME)."""
    sentinels = parse_endpoints(env.get("GRACE_REDIS_SENTINELS", ""))
    name = env.get("GRACE_REDIS_MASTER_NAME") or "grace"
    try:
        host, port = sentinel_client(sentinels, 2.0).discover_master(name)
    except redis.RedisError as exc:
        raise NativeToolError(
            f"redis: no master {name!r} from the Sentinels: {exc}", hint=STACK_HINT
        ) from exc
    return str(host), int(port)


def _redis_client(host: str, port: int, password: str) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=port,
        password=password or None,
        socket_timeout=5.0,
        socket_connect_timeout=5.0,
    )


def _check_redis(host: str, port: int, password: str) -> None:
    """Find redis-benchmark, then check Redis answers (redis-benchmark spins forever on a
    refused connection)."""
    find_binary("redis-benchmark", "redis-benchmark")
    client = _redis_client(host, port, password)
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise NativeToolError(
            f"redis-benchmark: Redis at {host}:{port} refused the password: {exc}",
            hint="pass GRACE_REDIS_PASSWORD from `gracectl env`",
        ) from exc
    except redis.RedisError as exc:
        raise NativeToolError(
            f"redis-benchmark: cannot reach Redis at {host}:{port}: {exc}", hint=STACK_HINT
        ) from exc
    finally:
        client.close()


def _redis_benchmark(
    tool: str,
    host: str,
    port: int,
    password: str,
    options: list[str],
    shown_tail: list[str],
    requests_total: int,
    timeout_s: float | None,
) -> tuple[str, list[RedisBenchmarkRow]]:
    binary = find_binary("redis-benchmark", tool)
    head = [binary, "-h", host, "-p", str(port)]
    auth = ["-a", password] if password else []
    argv = [*head, *auth, *options]
    shown = [*head, *(["-a", "***"] if password else []), *shown_tail]
    # Assume at least 2,000 requests/s before calling it stuck.
    bound = timeout_s or (SLACK_S + requests_total / 2000) * timeout_multiplier()
    output, _ = run_tool(tool, argv, bound, shown=shown, secret=password)
    return shlex.join(shown), parse_redis_benchmark_csv(output)


def redis_benchmark(
    host: str,
    port: int,
    password: str,
    clients: int = 50,
    requests: int = 200_000,
    tests: str = "set,get",
    pipeline: int = 1,
    *,
    timeout_s: float | None = None,
) -> NativeCeiling:
    """redis-benchmark's built-in tests (one after the other, each `requests` long) on the
    master at host:port (`redis_master_address`). Throughput: the mean over the tests (they
    do not run at once, so a sum would mean nothing); p99: the worst test's."""
    for name, value in (("clients", clients), ("requests", requests), ("pipeline", pipeline)):
        require_positive(name, value)
    if not _REDIS_TESTS.match(tests):
        raise ConfigError(f"bad redis-benchmark tests {tests!r}", hint='e.g. "set,get"')
    options = [
        "-c",
        str(clients),
        "-n",
        str(requests),
        "-t",
        tests,
        "-P",
        str(pipeline),
        "--csv",
        "-q",
    ]
    _check_redis(host, port, password)
    command, rows = _redis_benchmark(
        "redis-benchmark",
        host,
        port,
        password,
        options,
        options,
        requests * len(tests.split(",")),
        timeout_s,
    )
    p99s = [r.p99_ms for r in rows if r.p99_ms is not None]
    per_test = ", ".join(
        f"{r.test} {r.requests_per_s:,.0f}/s"
        + (f" (p99 {r.p99_ms:g} ms)" if r.p99_ms is not None else "")
        for r in rows
    )
    return NativeCeiling(
        tool="redis-benchmark",
        command=command,
        throughput=statistics.fmean(r.requests_per_s for r in rows),
        unit="ops/s",
        p99_ms=max(p99s) if p99s else None,
        detail=(
            f"mean over tests run one after the other: {per_test}; p99 of the worst test; "
            f"{clients} clients, pipeline {pipeline}, {requests} requests per test"
        ),
    )


def redis_benchmark_xadd(
    host: str,
    port: int,
    password: str,
    clients: int = 50,
    requests: int = 200_000,
    pipeline: int = 1,
    *,
    stream: str = XADD_STREAM,
    payload_bytes: int = 100,
    timeout_s: float | None = None,
) -> NativeCeiling:
    """redis-benchmark running `XADD <stream> * k key v <payload_bytes bytes>` (the fields
    gracectl's Redis Streams bus writes) on the master; the stream is deleted before and
    after."""
    for name, value in (("clients", clients), ("requests", requests), ("pipeline", pipeline)):
        require_positive(name, value)
    if not BUS_NAME.match(stream):
        raise ConfigError(f"bad stream name {stream!r}", hint="letters, digits, . _ -")
    common = ["-c", str(clients), "-n", str(requests), "-P", str(pipeline), "--csv"]
    command_words = ["XADD", stream, "*", "k", "key", "v"]
    options = [*common, *command_words, "x" * max(1, payload_bytes)]
    shown_tail = [*common, *command_words, f"<{max(1, payload_bytes)} bytes>"]
    _check_redis(host, port, password)
    _delete_key(host, port, password, stream)
    try:
        command, rows = _redis_benchmark(
            "redis-benchmark", host, port, password, options, shown_tail, requests, timeout_s
        )
    finally:
        _delete_key(host, port, password, stream)
    (row, *_) = rows
    return NativeCeiling(
        tool="redis-benchmark",
        command=command,
        throughput=row.requests_per_s,
        unit="events/s",
        p99_ms=row.p99_ms,
        detail=(
            f"XADD of a {payload_bytes}-byte value to one stream; {clients} clients, "
            f"pipeline {pipeline}, {requests} requests"
            + (
                f"; p50 {row.p50_ms:g} ms, max {row.max_ms:g} ms"
                if row.p50_ms is not None and row.max_ms is not None
                else ""
            )
        ),
    )


def _delete_key(host: str, port: int, password: str, key: str) -> None:
    client = _redis_client(host, port, password)
    try:
        client.delete(key)
    except redis.RedisError as exc:
        log.warning("could not delete %s on %s:%d: %s", key, host, port, exc)
    finally:
        client.close()
