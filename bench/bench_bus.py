#!/usr/bin/env python3
"""Benchmark gracectl's event-bus load and Kafka chaos on one `ha` stack with Kafka.

1. up: the wall time of a cold `GRACECTL_BUS=kafka gracectl up --profile ha` (`--up-runs`,
   each after a `down --purge`; the last one's stack is used for the rest).
2. kafka: Kafka's ProducerPerformance (acks=all, 100-byte records, unthrottled;
   gracectl.native.kafka_producer_performance) next to gracectl's event workload (async
   produce, acks=all, 100-byte payloads, open model offered above what it can do), one after
   the other on the same cluster; ratio gracectl / native.
3. redis: redis-benchmark XADD on the Sentinel's master (gracectl.native.redis_benchmark_xadd)
   next to gracectl's event workload on the Redis Streams bus (one XADD round trip at a time
   per producer thread); ratio.
4. chaos: N runs of `gracectl chaos run scenarios/kafka-kill-broker.yaml --json`: recovery_s,
   lost acknowledged events, verdict.

gracectl's throughput is the number of events acknowledged (`ok`) within the schedule's
duration, divided by it, from the workload's history. The stack lives in a fresh
GRACECTL_HOME under /tmp (mode 0755) on base ports within 26000-26999, and is always
`down --purge`d in a finally block (also on Ctrl-C / SIGTERM); processes still pointing at
that home afterwards are killed and listed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_chaos import (
    CpuSampler,
    Stack,
    Terminated,
    _on_sigterm,
    code_identity,
    gracectl_env,
    leftover_processes,
    log,
    parse_json_object,
    snapshot_code,
    table,
)
from bench_up import _bindable

# gracectl itself is imported lazily, from the code snapshot main() takes (--code).

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "scenarios" / "kafka-kill-broker.yaml"
PORT_MIN, PORT_MAX = 26000, 26999
PORT_STEP = 50
UP_TIMEOUT_S = 600.0
DOWN_TIMEOUT_S = 300.0
READY_TIMEOUT_S = 300.0
CHAOS_TIMEOUT_S = 480.0
PHASES = ("up", "kafka", "redis", "chaos")
_UP_REPORTED = re.compile(r"stack up in ([0-9.]+) s")


# -- ports and the stack ---------------------------------------------------------------------
def port_offsets(cwd: Path) -> list[int]:
    """The ha + Kafka port plan, as offsets from the base port."""
    from gracectl.config import load_settings
    from gracectl.topology import plan

    environ = {"GRACECTL_BUS": "kafka", "GRACECTL_BASE_PORT": str(PORT_MIN)}
    settings = load_settings("ha", cwd=cwd, environ=environ)
    return sorted(port - PORT_MIN for _, _, port in plan(settings).all_ports())


def free_base(first: int, offsets: list[int]) -> int:
    """The first base port from `first` (in steps of PORT_STEP) whose plan is all bindable
    and within PORT_MIN-PORT_MAX."""
    base = first
    while base + offsets[-1] <= PORT_MAX:
        if all(_bindable(base + offset) for offset in offsets):
            return base
        base += PORT_STEP
    raise RuntimeError(f"no free block of {offsets[-1] + 1} ports in {first}-{PORT_MAX}")


@dataclass
class UpRun:
    index: int
    rc: int | None
    wall_s: float
    reported_s: float | None  # gracectl's own "stack up in X s"
    error: str | None = None


def cold_up(stack: Stack, index: int) -> UpRun:
    log(f"up run {index + 1}: GRACECTL_BUS=kafka gracectl up --profile ha (cold)")
    result = stack.gracectl(["up", "--profile", "ha"], UP_TIMEOUT_S)
    match = _UP_REPORTED.search(result.stdout + result.stderr)
    run = UpRun(
        index, result.rc, round(result.elapsed_s, 1), float(match.group(1)) if match else None
    )
    if result.rc != 0:
        run.error = f"rc {result.rc} (timed out {result.timed_out}): {result.tail()}"
    log(f"  -> {run.wall_s} s wall, gracectl says {run.reported_s} s {run.error or ''}")
    return run


# -- throughput ------------------------------------------------------------------------------
def _percentile_ms(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[max(0, int(fraction * len(ordered) + 0.999999) - 1)], 1)


def gracectl_event_load(
    connection: dict[str, str],
    run_dir: Path,
    *,
    producers: int,
    rate: float,
    duration_s: float,
    topic: str,
    payload_bytes: int,
) -> dict[str, Any]:
    """gracectl's event workload (no consumers), producers only, at `rate` events/s offered;
    its figures from the history."""
    from gracectl.event_workload import EventWorkload, EventWorkloadSpec
    from gracectl.history import read_event_history

    spec = EventWorkloadSpec(
        producers=producers,
        produce_rate=rate,
        consumers=0,
        consumer_processes=False,
        duration_s=duration_s,
        topic=topic,
        partitions=3,
        payload_bytes=payload_bytes,
        drain_s=0,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with EventWorkload(spec, connection, run_dir) as workload:
        sampler = CpuSampler(workload.pid or 0)
        sampler.start()
        try:
            result = workload.wait()
        finally:
            sampler.stop()
    ops = [
        op for path in result.history_paths for op in read_event_history(path) if op.op == "produce"
    ]
    figures: dict[str, Any] = {
        "bus": connection.get("GRACE_BUS"),
        "producers": producers,
        "offered_per_s": rate,
        "duration_s": duration_s,
        "payload_bytes": payload_bytes,
        "exit_code": result.exit_code,
        "elapsed_s": round(time.monotonic() - started, 1),
        "planned": len(ops),
    }
    if not ops:
        figures["error"] = f"no produce in the history (see {result.output_path})"
        return figures
    schedule_end = min(op.intended for op in ops) + duration_s
    ok = [op for op in ops if op.outcome == "ok"]
    in_window = [op for op in ok if op.end <= schedule_end]
    samples = [s[1] for s in sampler.samples]
    figures.update(
        throughput_per_s=round(len(in_window) / duration_s, 1),
        ok=len(ok),
        ok_within_schedule=len(in_window),
        failed=sum(op.outcome == "fail" for op in ops),
        indeterminate=sum(op.outcome == "info" for op in ops),
        late_fraction=round(sum(op.late for op in ops) / len(ops), 4),
        p50_from_intended_ms=_percentile_ms([op.latency_s for op in ok], 0.5),
        p99_from_intended_ms=_percentile_ms([op.latency_s for op in ok], 0.99),
        p50_from_send_ms=_percentile_ms([op.end - op.start for op in ok], 0.5),
        p99_from_send_ms=_percentile_ms([op.end - op.start for op in ok], 0.99),
        load_cpu_pct_mean=round(statistics.fmean(samples), 1) if samples else None,
        load_cpu_pct_max=round(max(samples), 1) if samples else None,
        machine_cpu_pct_mean=(
            round(statistics.fmean(s[2] for s in sampler.samples), 1) if sampler.samples else None
        ),
    )
    if result.exit_code != 0:
        figures["error"] = f"workload exited {result.exit_code} (see {result.output_path})"
    return figures


def _native(call: Callable[[], Any]) -> dict[str, Any]:
    from gracectl.errors import GracectlError

    try:
        ceiling = call()
    except GracectlError as exc:
        return {"error": f"{exc.message} ({exc.hint}) {exc.details}".strip()}
    return dict(ceiling.model_dump())


def _ratio(gracectl: dict[str, Any], native: dict[str, Any]) -> float | None:
    ours, theirs = gracectl.get("throughput_per_s"), native.get("throughput")
    return round(ours / theirs, 3) if ours and theirs else None


def kafka_phase(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    from gracectl.components.kafka import default_libs_dir
    from gracectl.config import load_settings
    from gracectl.native import kafka_producer_performance

    connection = stack.connection_env()
    settings = load_settings(environ={**stack.env, "GRACECTL_BUS": "kafka"}, cwd=stack.home)
    kafka = settings.kafka
    stamp = time.strftime("%H%M%S")
    log(f"kafka: ProducerPerformance, {args.records} records of 100 B, acks=all")
    native = _native(
        lambda: kafka_producer_performance(
            connection["GRACE_KAFKA_BOOTSTRAP"],
            f"bench-native-{stamp}",
            args.records,
            record_size=100,
            acks="all",
            throughput=-1,
            libs_dir=kafka.libs_dir or default_libs_dir(),
            replication_factor=kafka.replication_factor,
            min_insync_replicas=kafka.min_insync_replicas,
        )
    )
    log(f"  -> native {native.get('throughput')} events/s {native.get('error') or ''}")
    rate = args.kafka_rate or max(5000.0, round(1.2 * (native.get("throughput") or 10_000.0)))
    log(f"kafka: gracectl event workload, {args.kafka_producers} producers offered {rate:g}/s")
    try:
        ours = gracectl_event_load(
            {**connection, "GRACE_BUS": "kafka"},
            stack.home / "bench" / f"kafka-{stamp}",
            producers=args.kafka_producers,
            rate=rate,
            duration_s=args.duration,
            topic=f"bench-gracectl-{stamp}",
            payload_bytes=100,
        )
    except Exception as exc:  # record it and go on
        ours = {"error": f"{type(exc).__name__}: {exc}"}
    ratio = _ratio(ours, native)
    log(f"  -> gracectl {ours.get('throughput_per_s')} events/s, ratio {ratio}")
    return {"native": native, "gracectl": ours, "ratio": ratio}


def redis_phase(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    from gracectl.native import redis_benchmark_xadd, redis_master_address

    connection = stack.connection_env()
    stamp = time.strftime("%H%M%S")
    log(f"redis: redis-benchmark XADD, {args.redis_requests} requests, 50 clients")
    try:
        host, port = redis_master_address(connection)
        native = _native(
            lambda: redis_benchmark_xadd(
                host,
                port,
                connection["GRACE_REDIS_PASSWORD"],
                clients=50,
                requests=args.redis_requests,
                payload_bytes=100,
            )
        )
    except Exception as exc:
        native = {"error": f"{type(exc).__name__}: {exc}"}
    log(f"  -> native {native.get('throughput')} events/s {native.get('error') or ''}")
    rate = args.redis_rate
    log(f"redis: gracectl event workload, {args.redis_producers} producers offered {rate:g}/s")
    try:
        ours = gracectl_event_load(
            {**connection, "GRACE_BUS": "redis-streams"},
            stack.home / "bench" / f"redis-{stamp}",
            producers=args.redis_producers,
            rate=rate,
            duration_s=args.duration,
            topic=f"bench-gracectl-{stamp}",
            payload_bytes=100,
        )
    except Exception as exc:
        ours = {"error": f"{type(exc).__name__}: {exc}"}
    ratio = _ratio(ours, native)
    log(f"  -> gracectl {ours.get('throughput_per_s')} events/s, ratio {ratio}")
    return {"native": native, "gracectl": ours, "ratio": ratio}


# -- kafka-kill-broker -------------------------------------------------------------------------
@dataclass
class ChaosRun:
    index: int
    rc: int | None
    elapsed_s: float
    ready_wait_s: float | None = None
    verdict: str | None = None
    reason: str = ""
    recovery_s: float | None = None
    lost_acked_events: int | None = None
    acked_events: int | None = None
    indeterminate_events: int | None = None
    duplicate_events: int | None = None
    out_of_order_events: int | None = None
    late_fraction: float | None = None
    produce_unavailable_longest_s: float | None = None
    journal: str | None = None
    error: str | None = None


def chaos_run(stack: Stack, scenario: Path, index: int) -> ChaosRun:
    ready, waited, detail = stack.wait_all_running(READY_TIMEOUT_S)
    if not ready:
        return ChaosRun(
            index, None, 0.0, round(waited, 1), error=f"stack not all running: {detail}"
        )
    log(f"kafka-kill-broker run {index + 1}: gracectl chaos run {scenario.name} --json")
    result = stack.gracectl(["chaos", "run", str(scenario), "--json"], CHAOS_TIMEOUT_S)
    run = ChaosRun(index, result.rc, round(result.elapsed_s, 1), round(waited, 1))
    parsed = parse_json_object(result.stdout)
    if parsed is None:
        run.error = (
            f"no JSON result (rc {result.rc}, timed out {result.timed_out}): {result.tail()}"
        )
        return run
    metrics = parsed.get("metrics") or {}
    run.verdict, run.reason = parsed.get("verdict"), str(parsed.get("reason") or "")
    for name in (
        "recovery_s",
        "lost_acked_events",
        "acked_events",
        "indeterminate_events",
        "duplicate_events",
        "out_of_order_events",
        "late_fraction",
        "produce_unavailable_longest_s",
    ):
        value = metrics.get(name)
        setattr(run, name, value if isinstance(value, (int, float)) else None)
    history = parsed.get("history_path")
    run.journal = str(Path(str(history)).parent / "journal.json") if history else None
    if result.timed_out:
        run.error = "timed out"
    log(
        f"  -> {run.verdict}: recovery {run.recovery_s} s, lost {run.lost_acked_events}, "
        f"late {run.late_fraction} {run.error or ''}"
    )
    return run


def summarize_chaos(runs: Sequence[ChaosRun]) -> dict[str, Any]:
    recoveries = [r.recovery_s for r in runs if r.recovery_s is not None]
    return {
        "runs": len(runs),
        "recovery_median_s": round(statistics.median(recoveries), 2) if recoveries else None,
        "recovery_min_s": round(min(recoveries), 2) if recoveries else None,
        "recovery_max_s": round(max(recoveries), 2) if recoveries else None,
        "lost_acked_events_total": sum(r.lost_acked_events or 0 for r in runs),
        "verdicts": [r.verdict or r.error or "?" for r in runs],
    }


# -- report ------------------------------------------------------------------------------------
def render(report: dict[str, Any]) -> str:
    parts = [
        f"ha stack with Kafka x3, {report['machine']['cpus']} CPU(s) shared with other agents "
        f"(load average at start {report['machine']['loadavg_start']})",
    ]
    if report.get("up_runs"):
        rows = [
            [r["index"] + 1, r["wall_s"], r["reported_s"], r["error"] or ""]
            for r in report["up_runs"]
        ]
        parts += ["", "cold up (ha + Kafka)", table(["run", "wall s", "gracectl s", "error"], rows)]
    rows = []
    for name in ("kafka", "redis"):
        phase = report.get(name)
        if not phase:
            continue
        native, ours = phase["native"], phase["gracectl"]
        rows.append(
            [
                name,
                native.get("throughput"),
                native.get("p99_ms"),
                ours.get("throughput_per_s"),
                ours.get("offered_per_s"),
                ours.get("late_fraction"),
                ours.get("p99_from_send_ms"),
                ours.get("load_cpu_pct_mean"),
                phase["ratio"],
                native.get("error") or ours.get("error") or "",
            ]
        )
    if rows:
        headers = [
            "bus",
            "native/s",
            "native p99 ms",
            "gracectl/s",
            "offered/s",
            "late",
            "gc p99 send ms",
            "gc cpu %",
            "ratio",
            "error",
        ]
        parts += [
            "",
            "produce throughput, 100-byte events (acks=all for Kafka)",
            table(headers, rows),
        ]
    if report.get("chaos_runs"):
        rows = [
            [
                r["index"] + 1,
                r["verdict"],
                r["recovery_s"],
                r["lost_acked_events"],
                r["acked_events"],
                r["duplicate_events"],
                r["out_of_order_events"],
                r["late_fraction"],
                r["error"] or r["reason"],
            ]
            for r in report["chaos_runs"]
        ]
        headers = ["run", "verdict", "recovery s", "lost", "acked", "dup", "ooo", "late", "note"]
        parts += [
            "",
            "kafka-kill-broker",
            table(headers, rows),
            f"summary: {report['chaos_summary']}",
        ]
    return "\n".join(parts)


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="kafka-kill-broker runs (3)")
    parser.add_argument("--up-runs", type=int, default=1, help="cold up runs (1)")
    parser.add_argument("--only", default=",".join(PHASES), help="phases: up,kafka,redis,chaos")
    parser.add_argument("--duration", type=float, default=15.0, help="s of gracectl load (15)")
    parser.add_argument("--records", type=int, default=200_000, help="ProducerPerformance (200000)")
    parser.add_argument("--kafka-producers", type=int, default=2, help="gracectl producers (2)")
    parser.add_argument(
        "--kafka-rate",
        type=float,
        default=None,
        help="gracectl Kafka offered events/s (default 1.2 x ProducerPerformance, >= 5000)",
    )
    parser.add_argument("--redis-requests", type=int, default=200_000, help="XADDs (200000)")
    parser.add_argument("--redis-producers", type=int, default=4, help="gracectl producers (4)")
    parser.add_argument("--redis-rate", type=float, default=12_000, help="offered/s (12000)")
    parser.add_argument("--base-port", type=int, default=PORT_MIN, help=f"first base ({PORT_MIN})")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--code",
        default="worktree",
        help="gracectl to run: worktree (a copy taken at start), a git revision, or live",
    )
    parser.add_argument("--keep-runs", type=Path, default=None, help="copy run dirs here")
    args = parser.parse_args(argv)
    phases = {p for p in args.only.split(",") if p}
    if phases - set(PHASES):
        parser.error(f"--only: choose among {','.join(PHASES)}")
    args.phases = phases
    if not PORT_MIN <= args.base_port <= PORT_MAX:
        parser.error(f"--base-port must be within {PORT_MIN}-{PORT_MAX}")
    if args.runs < 0 or args.up_runs < 0:
        parser.error("--runs and --up-runs must be >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        snap = snapshot_code(args.code)
    except Exception as exc:
        print(f"cannot use --code {args.code}: {exc}", file=sys.stderr)
        return 2
    if snap is not None:
        sys.path.insert(0, str(snap))  # this process (the native tools, the loads) and
        os.environ["PYTHONPATH"] = str(snap)  # every child import the snapshot

    root = Path(tempfile.mkdtemp(prefix="gracectl-benchbus-", dir="/tmp"))
    root.chmod(0o755)
    home = root / "home"
    scenario = root / SCENARIO.name
    shutil.copy(SCENARIO, scenario)  # frozen, like the code
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {
            "cpus": psutil.cpu_count(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
        },
        "settings": {
            k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
        },
        "code": {**code_identity(args.code), "snapshot": str(snap) if snap else None},
        "home": str(home),
    }

    def save() -> None:
        if args.out:
            args.out.write_text(json.dumps(report, indent=2, default=str))

    code = 0
    stack: Stack | None = None
    try:
        base = free_base(args.base_port, port_offsets(root))
        env = {**gracectl_env(home, base), "GRACECTL_BUS": "kafka"}
        stack = Stack(home, base, env)
        home.mkdir()
        home.chmod(0o755)  # the service user must reach it
        report["base_port"] = base
        up_runs: list[UpRun] = []
        for index in range(max(1, args.up_runs) if "up" in args.phases else 1):
            if index > 0:
                stack.gracectl(["down", "--purge"], DOWN_TIMEOUT_S)
            run = cold_up(stack, index)
            up_runs.append(run)
            report["up_runs"] = [asdict(r) for r in up_runs] if "up" in args.phases else []
            save()
            if run.rc != 0:
                return 2
        for name, phase in (("kafka", kafka_phase), ("redis", redis_phase)):
            if name in args.phases:
                report[name] = phase(stack, args)
                save()
        if "chaos" in args.phases:
            runs: list[ChaosRun] = []
            for index in range(args.runs):
                try:
                    runs.append(chaos_run(stack, scenario, index))
                except Exception as exc:  # record it and go on
                    runs.append(ChaosRun(index, None, 0.0, error=f"{type(exc).__name__}: {exc}"))
                report["chaos_runs"] = [asdict(r) for r in runs]
                report["chaos_summary"] = summarize_chaos(runs)
                save()
    except (KeyboardInterrupt, Terminated) as exc:
        report["interrupted"] = type(exc).__name__
        code = 130
    finally:
        if args.keep_runs is not None and (home / "runs").is_dir():
            shutil.copytree(home / "runs", args.keep_runs, dirs_exist_ok=True)
        if stack is not None and (home / "state.json").exists():
            log("gracectl down --purge")
            down = stack.gracectl(["down", "--purge"], DOWN_TIMEOUT_S)
            report["down"] = {"rc": down.rc, "elapsed_s": round(down.elapsed_s, 1)}
        left = [p for p in leftover_processes(home) if p.is_running()]
        report["leftover_processes"] = [f"{p.pid} {' '.join(p.cmdline()[:4])}" for p in left]
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        save()
        shutil.rmtree(root, ignore_errors=True)
        if snap is not None:
            shutil.rmtree(snap, ignore_errors=True)
        print(render(report))
    errors = [r for r in report.get("chaos_runs", []) if r.get("error")]
    errors += [
        p
        for p in ("kafka", "redis")
        if report.get(p)
        and (report[p]["native"].get("error") or report[p]["gracectl"].get("error"))
    ]
    if code == 0 and (errors or report.get("leftover_processes")):
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
