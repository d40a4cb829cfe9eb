"""Parsing what the native load tools print (pure functions): pgbench's report and
per-transaction log, redis-benchmark's CSV, Kafka ProducerPerformance's summary line.
Output that cannot be read raises NativeToolError with its tail in `details`."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gracectl.errors import GracectlError

TAIL_LINES = 15


class NativeToolError(GracectlError):
    """A native load tool failed, timed out, or printed what could not be parsed."""


# -- output parsers (pure) -------------------------------------------------------------------
@dataclass(frozen=True)
class PgbenchSummary:
    tps: float  # without the initial connection time
    transactions: int
    failed: int
    latency_avg_ms: float | None


def _field(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text, re.MULTILINE)
    return found.group(1) if found else None


def parse_pgbench(output: str) -> PgbenchSummary:
    """pgbench's report (stdout): tps without the connection time, transactions, failures."""
    tps = _field(r"^tps = ([0-9.]+) \(without initial connection time\)", output)
    processed = _field(r"^number of transactions actually processed: (\d+)", output)
    if tps is None or processed is None:
        raise NativeToolError(
            "pgbench: no tps figure in its output",
            hint="see the details for what it printed",
            details=tail(output),
        )
    failed = _field(r"^number of failed transactions: (\d+)", output)
    latency = _field(r"^latency average = ([0-9.]+) ms", output)
    return PgbenchSummary(
        tps=float(tps),
        transactions=int(processed),
        failed=int(failed or 0),
        latency_avg_ms=float(latency) if latency is not None else None,
    )


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of `values` (sorted here); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def pgbench_latencies_ms(lines: Iterable[str]) -> list[float]:
    """Latencies from pgbench's per-transaction log (`-l`): `client_id transaction_no time
    script_no time_epoch time_us`, time in microseconds; skipped or failed transactions
    (a word instead of a number) are left out."""
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[2].isdigit():
            found.append(int(parts[2]) / 1000.0)
    return found


@dataclass(frozen=True)
class RedisBenchmarkRow:
    test: str
    requests_per_s: float
    avg_ms: float | None
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def parse_redis_benchmark_csv(output: str) -> list[RedisBenchmarkRow]:
    """redis-benchmark --csv: a header ("test","rps",...,"p99_latency_ms",...) then one row
    per test. Redis before 7 has only test and rps: the latencies are then None."""
    rows = list(csv.reader(line for line in output.splitlines() if line.strip()))
    header_at = next((i for i, row in enumerate(rows) if row[:2] == ["test", "rps"]), None)
    if header_at is None:
        header_at, header = -1, ["test", "rps"]
    else:
        header = rows[header_at]
    column = {name: i for i, name in enumerate(header)}
    found = []
    try:
        for row in rows[header_at + 1 :]:
            if len(row) < 2:
                raise ValueError(f"short row {row!r}")

            def value(name: str, row: list[str] = row) -> float | None:
                i = column.get(name)
                return float(row[i]) if i is not None and i < len(row) else None

            found.append(
                RedisBenchmarkRow(
                    test=row[0],
                    requests_per_s=float(row[1]),
                    avg_ms=value("avg_latency_ms"),
                    p50_ms=value("p50_latency_ms"),
                    p99_ms=value("p99_latency_ms"),
                    max_ms=value("max_latency_ms"),
                )
            )
    except ValueError as exc:
        raise NativeToolError(
            f"redis-benchmark: unreadable CSV ({exc})", details=tail(output)
        ) from exc
    if not found:
        raise NativeToolError("redis-benchmark: no result rows in its CSV", details=tail(output))
    return found


@dataclass(frozen=True)
class ProducerPerformanceSummary:
    records: int
    records_per_s: float
    mb_per_s: float
    avg_ms: float
    max_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float


_PRODUCER_SUMMARY = re.compile(
    r"^(\d+) records sent, ([0-9.]+) records/sec \(([0-9.]+) MB/sec\), ([0-9.]+|NaN) ms avg "
    r"latency, ([0-9.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, "
    r"(\d+) ms 99\.9th\.$",
    re.MULTILINE,
)


def parse_producer_performance(output: str) -> ProducerPerformanceSummary:
    """The final summary line of Kafka's ProducerPerformance (the progress lines every 5 s
    lack the percentiles). It counts acknowledged records only; with none, the average
    latency is NaN."""
    found = list(_PRODUCER_SUMMARY.finditer(output))
    if not found:
        raise NativeToolError(
            "ProducerPerformance: no summary line in its output",
            hint="see the details for what it printed",
            details=tail(output),
        )
    g = found[-1].groups()
    return ProducerPerformanceSummary(
        records=int(g[0]),
        records_per_s=float(g[1]),
        mb_per_s=float(g[2]),
        avg_ms=float(g[3]),
        max_ms=float(g[4]),
        p50_ms=float(g[5]),
        p95_ms=float(g[6]),
        p99_ms=float(g[7]),
        p999_ms=float(g[8]),
    )


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
