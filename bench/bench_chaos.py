#!/usr/bin/env python3
"""Benchmark gracectl's chaos measurements on one `ha` stack.

1. RTO and lost acknowledged writes: N runs each of `gracectl chaos kill-primary` (whole
   leader node: Patroni + PostgreSQL SIGKILL) and `gracectl chaos kill-primary
   --postmaster-only`, waiting between runs until `gracectl status --json` shows every
   component running.
2. Write throughput: pgbench (single-INSERT custom script through HAProxy's rw port as the
   app user) next to gracectl's own workload (gracectl.workload.Workload, writers only, offered
   well above its ceiling), same INSERT, same client count, one after the other.
3. Coordinated omission: `gracectl chaos pause postgres:leader --for 2`: gracectl's p99 during
   the fault (from the intended send time) against Locust's own CSV p99 for the same run, and
   the max latency from actual start vs from intended start, from the history.

The stack is brought up once (fresh GRACECTL_HOME under /tmp, mode 0755, ports 27000-27999)
and always `down --purge`d in a finally block (also on Ctrl-C / SIGTERM). Every command has a
hard timeout; a failing run is recorded and the benchmark goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

if TYPE_CHECKING:
    from gracectl.history import Operation

# gracectl is imported lazily, from the code snapshot main() takes (--code): other people
# edit the tree while a benchmark runs, and a half-edited tree must not break it midway.

GRACECTL = [sys.executable, "-m", "gracectl"]
PORT_MIN, PORT_MAX = 27000, 27999
HA_PORTS = 23
PASSTHROUGH = ("GRACECTL_TIMEOUT_MULTIPLIER",)
KINDS = ("kill-primary", "kill-postmaster")
PGBENCH_TABLE = "bench_pgbench_writes"
WORKLOAD_TABLE = "bench_wl_writes"
# One id range per pgbench run (the same layout as gracectl's ids: run in the top bits,
# client in bits 24-31, a per-client counter below).
PGBENCH_SCRIPT = f"""\\set id :base + (:client_id << 24) + :n
\\set n :n + 1
INSERT INTO {PGBENCH_TABLE} (id, worker) VALUES (:id, 'pgbench');
"""
UP_TIMEOUT_S = 400.0
DOWN_TIMEOUT_S = 300.0
STATUS_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 300.0


class Terminated(BaseException):
    """SIGTERM: unwind through the finally blocks (down --purge)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signal.Signals(signum).name)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- commands ------------------------------------------------------------------------------
@dataclass
class CmdResult:
    argv: list[str]
    rc: int | None  # None: timed out and killed
    stdout: str
    stderr: str
    elapsed_s: float
    timed_out: bool = False
    cpu_s: float = 0.0  # user + system CPU of the reaped child processes

    def tail(self, lines: int = 15) -> str:
        return "\n".join((self.stdout + "\n" + self.stderr).strip().splitlines()[-lines:])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cmd(
    argv: list[str], env: dict[str, str], timeout_s: float, cwd: Path | None = None
) -> CmdResult:
    """Run with a hard timeout: SIGTERM to its process group (gracectl rolls back on it),
    SIGKILL 120 s later if it is still there."""
    started = time.monotonic()
    cpu0 = _children_cpu()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        log(f"timeout after {timeout_s:.0f} s: SIGTERM {' '.join(argv[:6])}")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=120)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    return CmdResult(
        argv=argv,
        rc=None if timed_out else proc.returncode,
        stdout=out or "",
        stderr=err or "",
        elapsed_s=time.monotonic() - started,
        timed_out=timed_out,
        cpu_s=_children_cpu() - cpu0,
    )


def parse_json_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(text[start:])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class Stack:
    home: Path
    base_port: int
    env: dict[str, str]
    reap_orphans: bool = False
    reaped: list[str] = field(default_factory=list)

    def gracectl(self, args: list[str], timeout_s: float) -> CmdResult:
        return run_cmd([*GRACECTL, *args], self.env, timeout_s, cwd=self.home)

    def status(self) -> dict[str, Any] | None:
        result = self.gracectl(["status", "--json"], STATUS_TIMEOUT_S)
        return parse_json_object(result.stdout) if result.rc == 0 else None

    def wait_all_running(self, timeout_s: float = READY_TIMEOUT_S) -> tuple[bool, float, str]:
        """Until every component (and supervisord) is `running`; (ok, waited, last detail)."""
        started = time.monotonic()
        detail = "no status"
        while True:
            status = self.status()
            if status is not None:
                down = [
                    f"{c['name']}={c['state']}"
                    for c in status.get("components", [])
                    if c.get("state") != "running"
                ]
                if status.get("supervisor") != "running":
                    down.append(f"supervisord={status.get('supervisor')}")
                if not down and status.get("components"):
                    return True, time.monotonic() - started, ""
                detail = ", ".join(down)
            if time.monotonic() - started > timeout_s:
                return False, time.monotonic() - started, detail
            time.sleep(3)

    def ready(self) -> tuple[bool, float, str]:
        """`wait_all_running`; with `reap_orphans`, after a 60 s wait kill orphaned PostgreSQL
        backends of the stack (recorded in `reaped`) and wait again."""
        if not self.reap_orphans:
            return self.wait_all_running()
        ready, waited, detail = self.wait_all_running(60)
        if ready:
            return ready, waited, detail
        orphans = orphan_backends(self.home)
        if not orphans:
            ready, more, detail = self.wait_all_running(READY_TIMEOUT_S - 60)
            return ready, waited + more, detail
        described = [_describe_proc(p) for p in orphans]
        log(f"stack not all running ({detail}); killing orphan backends: {'; '.join(described)}")
        self.reaped.extend(f"{time.strftime('%H:%M:%S')} {d}" for d in described)
        for proc in orphans:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        ready, more, detail = self.wait_all_running()
        return ready, waited + more, f"{detail} (after killing {len(orphans)} orphan backend(s))"

    def connection_env(self) -> dict[str, str]:
        result = self.gracectl(["env", "--json"], STATUS_TIMEOUT_S)
        parsed = parse_json_object(result.stdout)
        if result.rc != 0 or parsed is None:
            raise RuntimeError(f"gracectl env --json failed: {result.tail()}")
        return {str(k): str(v) for k, v in parsed.items()}


def gracectl_env(home: Path, base_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRACECTL_", "GRACE_"))}
    env.update({k: os.environ[k] for k in PASSTHROUGH if k in os.environ})
    env["GRACECTL_HOME"] = str(home)
    env["GRACECTL_BASE_PORT"] = str(base_port)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- 1. kill-primary runs ------------------------------------------------------------------
@dataclass
class ChaosRun:
    kind: str
    index: int
    rc: int | None
    elapsed_s: float
    ready_wait_s: float | None = None
    status: str | None = None
    verdict: str | None = None
    reason: str = ""
    rto_s: float | None = None
    acked_writes: int | None = None
    lost_acked_writes: int | None = None
    indeterminate_writes: int | None = None
    recovered_indeterminate_writes: int | None = None
    write_unavailable_s: float | None = None
    write_unavailable_longest_s: float | None = None
    # This benchmark's own figure (not gracectl's): from the fault window's start to the ack
    # of the first write sent after the fault action had returned (signals delivered).
    rto_after_signal_s: float | None = None
    read_availability: float | None = None
    journal: str | None = None
    error: str | None = None


def _num(metrics: dict[str, Any], name: str) -> Any:
    value = metrics.get(name)
    return value if isinstance(value, (int, float)) else None


def journal_of(result: dict[str, Any]) -> Path | None:
    history = result.get("history_path")
    if not history:
        return None
    path = Path(str(history)).parent / "journal.json"
    return path if path.exists() else None


def orphan_backends(home: Path) -> list[psutil.Process]:
    """PostgreSQL backends of this stack whose postmaster is gone (re-parented to PID 1, a
    rewritten `postgres: ...` title, working directory in one of the stack's data dirs):
    while one lives, PostgreSQL refuses to start on that data directory ("pre-existing
    shared memory block ... is still in use")."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd", "ppid"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if (
                proc.info["ppid"] == 1
                and cmdline
                and cmdline[0].startswith("postgres: ")
                and str(home) in (proc.info["cwd"] or "")
            ):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def chaos_run(stack: Stack, kind: str, index: int, duration_s: float) -> ChaosRun:
    ready, waited, detail = stack.ready()
    if not ready:
        return ChaosRun(kind, index, None, 0.0, waited, error=f"stack not all running: {detail}")
    argv = ["chaos", "kill-primary", "--duration", f"{duration_s:g}", "--json"]
    if kind == "kill-postmaster":
        argv.insert(2, "--postmaster-only")
    log(f"{kind} run {index + 1}: gracectl {' '.join(argv)}")
    result = stack.gracectl(argv, duration_s + 420)
    run = ChaosRun(kind, index, result.rc, round(result.elapsed_s, 1), round(waited, 1))
    if detail:
        run.reason = f"before the run: {detail}; "
    parsed = parse_json_object(result.stdout)
    if parsed is None:
        run.error = f"no JSON result (rc {result.rc}, timed out {result.timed_out}): " + (
            result.tail()
        )
        return run
    metrics = parsed.get("metrics") or {}
    run.status = parsed.get("status")
    run.verdict = parsed.get("verdict")
    run.reason += str(parsed.get("reason") or "")
    run.rto_s = _num(metrics, "rto_s")
    run.acked_writes = _num(metrics, "acked_writes")
    run.lost_acked_writes = _num(metrics, "lost_acked_writes")
    run.indeterminate_writes = _num(metrics, "indeterminate_writes")
    run.recovered_indeterminate_writes = _num(metrics, "recovered_indeterminate_writes")
    run.write_unavailable_s = _num(metrics, "write_unavailable_s")
    run.write_unavailable_longest_s = _num(metrics, "write_unavailable_longest_s")
    run.read_availability = _num(metrics, "read_availability")
    journal = journal_of(parsed)
    run.journal = str(journal) if journal else None
    if journal is not None:
        try:
            run.rto_after_signal_s = rto_after_signal(journal)
        except (OSError, ValueError, KeyError) as exc:
            log(f"rto_after_signal: {exc}")
    if result.timed_out:
        run.error = "timed out"
    return run


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _min(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _max(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def rto_after_signal(journal_path: Path) -> float | None:
    """Seconds from the first fault window's start to the ack of the first `ok` write sent
    after the fault action ended (its signals delivered). gracectl's rto_s counts from the
    window's start, which is stamped before the signal is sent, so a write acknowledged in
    the few ms before the kill lands yields an RTO of ~0 s."""
    journal = json.loads(journal_path.read_text())
    windows = journal.get("fault_windows") or []
    if not windows:
        return None
    window = windows[0]
    ended = [
        a["ended"]
        for a in journal.get("actions", [])
        if a.get("name") == window["name"] and a.get("target") == window["target"]
    ]
    if not ended:
        return None
    since = min(ended)
    from gracectl.evaluate import operations

    acks = [
        o.end
        for o in operations(Path(journal["history_path"]))
        if o.op == "write" and o.outcome == "ok" and o.start >= since
    ]
    return round(min(acks) - float(window["start"]), 3) if acks else None


def summarize_rto(runs: Sequence[ChaosRun]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        mine = [r for r in runs if r.kind == kind]
        rtos = [r.rto_s for r in mine if r.rto_s is not None]
        summary[kind] = {
            "runs": len(mine),
            "runs_with_rto": len(rtos),
            "rto_median_s": statistics.median(rtos) if rtos else None,
            "rto_min_s": min(rtos) if rtos else None,
            "rto_max_s": max(rtos) if rtos else None,
            "rto_after_signal_median_s": _median([r.rto_after_signal_s for r in mine]),
            "rto_after_signal_min_s": _min([r.rto_after_signal_s for r in mine]),
            "rto_after_signal_max_s": _max([r.rto_after_signal_s for r in mine]),
            "lost_acked_writes_total": sum(r.lost_acked_writes or 0 for r in mine),
            "verdicts": [r.verdict or r.error or "?" for r in mine],
        }
    return summary


# -- 2. throughput -------------------------------------------------------------------------
class CpuSampler(threading.Thread):
    """CPU % (of one core) of one process, sampled every second, plus machine-wide CPU %."""

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        super().__init__(name="cpu-sampler", daemon=True)
        self.interval_s = interval_s
        self.samples: list[tuple[float, float, float]] = []  # (time, process %, machine %)
        self._stop_event = threading.Event()
        try:
            self._proc: psutil.Process | None = psutil.Process(pid)
            self._proc.cpu_percent(None)
        except psutil.Error:
            self._proc = None
        psutil.cpu_percent(None)

    def run(self) -> None:
        while self._proc is not None and not self._stop_event.wait(self.interval_s):
            try:
                value = self._proc.cpu_percent(None)
            except psutil.Error:
                return
            machine = psutil.cpu_percent(None) * (psutil.cpu_count() or 1)
            self.samples.append((time.time(), value, machine))

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def within(self, start: float, end: float) -> tuple[float | None, float | None, float | None]:
        """(mean process %, max process %, mean machine %) of the samples in [start, end]."""
        inside = [s for s in self.samples if start < s[0] <= end]
        if not inside:
            return None, None, None
        return (
            statistics.fmean(s[1] for s in inside),
            max(s[1] for s in inside),
            statistics.fmean(s[2] for s in inside),
        )


@dataclass
class Throughput:
    tool: str
    clients: int
    ok_writes_per_s: float | None = None
    ok_writes: int | None = None
    failed: int | None = None
    indeterminate: int | None = None
    offered_rate_per_s: float | None = None
    service_p50_ms: float | None = None  # end - start (actual send), median
    process_cpu_pct_mean: float | None = None  # of one core
    process_cpu_pct_max: float | None = None
    machine_cpu_pct_mean: float | None = None  # of one core; 200 = both cores busy
    rows_in_table: int | None = None
    elapsed_s: float | None = None
    detail: str = ""
    error: str | None = None


def _exec(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        for statement in statements:
            conn.execute(statement)


def _count(dsn: str, table: str) -> int | None:
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row else None


def _fresh_table(dsn: str, table: str) -> None:
    _exec(
        dsn,
        f"DROP TABLE IF EXISTS {table}",
        f"DROP SEQUENCE IF EXISTS {table}_runs",
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, worker text, at timestamptz DEFAULT now())",
    )


def _pgbench_figure(text: str, prefix: str) -> float | None:
    for line in text.splitlines():
        if line.strip().startswith(prefix):
            token = line.split("=", 1)[-1] if "=" in line else line.split(":", 1)[-1]
            try:
                return float(token.split()[0])
            except (ValueError, IndexError):
                return None
    return None


def run_pgbench(
    conn: dict[str, str], clients: int, duration_s: int, workdir: Path, run_number: int
) -> Throughput:
    out = Throughput("pgbench", clients)
    rw = conninfo_to_dict(conn["GRACE_PG_RW_DSN"])
    try:
        _fresh_table(conn["GRACE_PG_RW_DSN"], PGBENCH_TABLE)
    except psycopg.Error as exc:
        out.error = f"table: {exc}"
        return out
    script = workdir / "pgbench_insert.sql"
    script.write_text(PGBENCH_SCRIPT)
    argv = [
        "pgbench",
        "-h",
        str(rw["host"]),
        "-p",
        str(rw["port"]),
        "-U",
        str(rw["user"]),
        "-n",
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(duration_s),
        "-f",
        str(script),
        "-D",
        "n=0",
        "-D",
        f"base={run_number << 40}",
        str(rw["dbname"]),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSWORD"] = str(rw.get("password", ""))
    env["PGCONNECT_TIMEOUT"] = "10"
    result = run_cmd(argv, env, duration_s + 60)
    out.elapsed_s = round(result.elapsed_s, 2)
    text = result.stdout + "\n" + result.stderr
    out.ok_writes_per_s = _pgbench_figure(text, "tps =")
    processed = _pgbench_figure(text, "number of transactions actually processed")
    failed = _pgbench_figure(text, "number of failed transactions")
    out.ok_writes = None if processed is None else int(processed)
    out.failed = None if failed is None else int(failed)
    # pgbench is a child reaped by run_cmd: its CPU is in RUSAGE_CHILDREN.
    if result.elapsed_s > 0:
        out.process_cpu_pct_mean = round(100.0 * result.cpu_s / result.elapsed_s, 1)
    out.rows_in_table = _count(conn["GRACE_PG_RW_DSN"], PGBENCH_TABLE)
    out.detail = "query mode simple; " + " ".join(
        line.strip() for line in text.splitlines() if line.strip().startswith("latency average")
    )
    if result.rc != 0 or out.ok_writes_per_s is None:
        out.error = f"pgbench rc {result.rc}: {result.tail(5)}"
    return out


def _window_ops(ops: Sequence[Operation], start: float, end: float) -> list[Operation]:
    return [o for o in ops if o.op == "write" and start <= o.end <= end]


def run_workload(
    conn: dict[str, str], clients: int, duration_s: int, offered: float, run_dir: Path
) -> Throughput:
    from gracectl.evaluate import operations
    from gracectl.workload import Workload, WorkloadSpec

    out = Throughput("gracectl", clients, offered_rate_per_s=round(offered, 1))
    try:
        _fresh_table(conn["GRACE_PG_RW_DSN"], WORKLOAD_TABLE)
    except psycopg.Error as exc:
        out.error = f"table: {exc}"
        return out
    spec = WorkloadSpec(
        writers=clients,
        readers=0,
        write_rate=offered,
        duration_s=duration_s,
        table=WORKLOAD_TABLE,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    workload = Workload(spec, conn, run_dir)
    started = time.monotonic()
    sampler: CpuSampler | None = None
    try:
        workload.start()
        assert workload.pid is not None
        sampler = CpuSampler(workload.pid)
        sampler.start()
        result = workload.wait(timeout_s=duration_s + 240)
    finally:
        if sampler is not None:
            sampler.stop()
        if workload.running():
            workload.stop()
    out.elapsed_s = round(time.monotonic() - started, 2)
    ops = list(operations(workload.history_dir))
    writes = [o for o in ops if o.op == "write"]
    if not writes:
        out.error = f"no operation in the history (locust exit {result.exit_code})"
        return out
    t0 = min(o.intended for o in writes)
    window = _window_ops(writes, t0, t0 + duration_s)
    ok = [o for o in window if o.outcome == "ok"]
    out.ok_writes = len(ok)
    out.ok_writes_per_s = round(len(ok) / duration_s, 1)
    out.failed = sum(1 for o in window if o.outcome == "fail")
    out.indeterminate = sum(1 for o in window if o.outcome == "info")
    if ok:
        out.service_p50_ms = round(1000 * statistics.median(o.end - o.start for o in ok), 2)
    if sampler is not None:
        mean, peak, machine = sampler.within(t0, t0 + duration_s)
        out.process_cpu_pct_mean = None if mean is None else round(mean, 1)
        out.process_cpu_pct_max = None if peak is None else round(peak, 1)
        out.machine_cpu_pct_mean = None if machine is None else round(machine, 1)
    out.rows_in_table = _count(conn["GRACE_PG_RW_DSN"], WORKLOAD_TABLE)
    unsent = sum(1 for o in writes if (o.error or "").startswith("not sent"))
    out.detail = (
        f"locust exit {result.exit_code}; {len(writes)} writes in history "
        f"({unsent} never sent: backlog); ok counted by end in the {duration_s} s schedule"
    )
    if result.exit_code != 0:
        out.error = f"locust exit {result.exit_code} (see {result.output_path})"
    return out


def measure_pgbench_cpu(
    conn: dict[str, str], clients: int, duration_s: int, workdir: Path, run_number: int
) -> Throughput:
    """pgbench with a machine-wide CPU sample around it."""
    psutil.cpu_percent(None)
    started = time.monotonic()
    out = run_pgbench(conn, clients, duration_s, workdir, run_number)
    elapsed = time.monotonic() - started
    if elapsed > 1:
        out.machine_cpu_pct_mean = round(psutil.cpu_percent(None) * (psutil.cpu_count() or 1), 1)
    return out


# -- 3. coordinated omission ---------------------------------------------------------------
def _p(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def locust_percentiles(stats_path: Path) -> dict[str, dict[str, float | None]]:
    """Locust's CSV: per name (write, read, Aggregated) the 99% / 100% / median columns, ms."""
    rows: dict[str, dict[str, float | None]] = {}
    with stats_path.open(newline="") as fh:
        for row in csv.DictReader(fh):

            def num(key: str, r: dict[str, str] = row) -> float | None:
                try:
                    return float(r[key])
                except (KeyError, ValueError, TypeError):
                    return None

            rows[row.get("Name") or "?"] = {
                "p50_ms": num("50%"),
                "p99_ms": num("99%"),
                "max_ms": num("Max Response Time"),
                "requests": num("Request Count"),
            }
    return rows


def coordinated_omission(stack: Stack, pause_s: float, rate: float) -> dict[str, Any]:
    from gracectl.checks.windows import fault_union
    from gracectl.evaluate import operations
    from gracectl.history import FaultWindow

    out: dict[str, Any] = {"rate": rate}
    ready, waited, detail = stack.ready()
    out["ready_wait_s"] = round(waited, 1)
    if not ready:
        out["error"] = f"stack not all running: {detail}"
        return out
    argv = ["chaos", "pause", "postgres:leader", "--for", f"{pause_s:g}", "--rate", f"{rate:g}"]
    argv.append("--json")
    log(f"coordinated omission: gracectl {' '.join(argv)}")
    result = stack.gracectl(argv, 20 + 420)
    out["command"] = "gracectl " + " ".join(argv)
    out["rc"] = result.rc
    parsed = parse_json_object(result.stdout)
    if parsed is None:
        out["error"] = f"no JSON result (rc {result.rc}): {result.tail()}"
        return out
    metrics = parsed.get("metrics") or {}
    out["status"], out["verdict"] = parsed.get("status"), parsed.get("verdict")
    out["gracectl_latency_during_p99_ms"] = _ms(_num(metrics, "latency_during_p99_s"))
    out["gracectl_latency_during_count"] = _num(metrics, "latency_during_count")
    out["gracectl_latency_before_p99_ms"] = _ms(_num(metrics, "latency_before_p99_s"))
    journal_path = journal_of(parsed)
    if journal_path is None:
        out["error"] = "journal not found"
        return out
    out["journal"] = str(journal_path)
    journal = json.loads(journal_path.read_text())
    stats_path = Path(journal.get("locust_stats_path") or "")
    if stats_path.is_file():
        out["locust_stats_path"] = str(stats_path)
        out["locust_csv"] = locust_percentiles(stats_path)
    else:
        out["locust_csv_error"] = f"no Locust stats CSV at {stats_path}"
    windows = [FaultWindow.model_validate(w) for w in journal.get("fault_windows") or []]
    union = fault_union(windows)
    if windows:
        first = windows[0]
        out["fault_window_s"] = None if first.end is None else round(first.end - first.start, 3)
    out["rto_s"] = _num(metrics, "rto_s")
    out["write_unavailable_s"] = _num(metrics, "write_unavailable_s")
    out["steady_state_after"] = journal.get("steady_states", {}).get("after")
    out["reason"] = parsed.get("reason")
    ops = list(operations(Path(journal["history_path"])))
    during = [o for o in ops if union.phase_of(o) == "during"]
    during_ok = [o for o in during if o.outcome == "ok"]
    out["writes_during_fault_by_outcome"] = {
        outcome: sum(1 for o in during if o.op == "write" and o.outcome == outcome)
        for outcome in ("ok", "fail", "info")
    }
    out["history"] = {
        scope: {
            "operations": len(chosen),
            "max_from_start_ms": _ms(max((o.end - o.start for o in chosen), default=None)),
            "max_from_intended_ms": _ms(max((o.latency_s for o in chosen), default=None)),
            "p99_from_start_ms": _ms(_p([o.end - o.start for o in chosen], 99)),
            "p99_from_intended_ms": _ms(_p([o.latency_s for o in chosen], 99)),
        }
        for scope, chosen in (
            ("whole_run", ops),
            ("during_fault", during),
            ("during_fault_ok_only", during_ok),
        )
    }
    stopped = stopped_processes(stack.home)
    out["stopped_processes_after_run"] = [_describe_proc(p) for p in stopped]
    if stopped:
        log(f"{len(stopped)} process(es) of the stack still stopped after the run: SIGCONT")
        for proc in stopped:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGCONT)
    return out


# -- report --------------------------------------------------------------------------------
def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[_f(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    parts = [
        f"ha stack, {report['machine']['cpus']} CPU(s) shared with other agents' stacks "
        f"(load average at start {report['machine']['loadavg_start']}): "
        "figures are for this busy machine, not a quiet one.",
    ]
    runs = [ChaosRun(**r) for r in report.get("chaos_runs", [])]
    if runs:
        parts.append("\n1. kill-primary (whole node) and --postmaster-only, per run")
        parts.append(
            table(
                [
                    "kind",
                    "run",
                    "rto_s",
                    "rto_sig",
                    "acked",
                    "lost",
                    "indet",
                    "w_unavail_s",
                    "read_avail",
                    "verdict",
                    "note",
                ],
                [
                    [
                        r.kind,
                        r.index + 1,
                        r.rto_s,
                        r.rto_after_signal_s,
                        r.acked_writes,
                        r.lost_acked_writes,
                        r.indeterminate_writes,
                        r.write_unavailable_s,
                        None if r.read_availability is None else round(r.read_availability, 4),
                        r.verdict or r.status or "-",
                        (r.error or r.reason)[:60],
                    ]
                    for r in runs
                ],
            )
        )
        summary = report.get("rto_summary", {})
        parts.append(
            table(
                [
                    "kind",
                    "runs",
                    "rto median",
                    "min",
                    "max",
                    "rto_sig median",
                    "min",
                    "max",
                    "lost acked (total)",
                ],
                [
                    [
                        k,
                        f"{s['runs_with_rto']}/{s['runs']}",
                        s["rto_median_s"],
                        s["rto_min_s"],
                        s["rto_max_s"],
                        s.get("rto_after_signal_median_s"),
                        s.get("rto_after_signal_min_s"),
                        s.get("rto_after_signal_max_s"),
                        s["lost_acked_writes_total"],
                    ]
                    for k, s in summary.items()
                ],
            )
        )
    rates = report.get("throughput", [])
    if rates:
        parts.append("\n2. write throughput, single INSERT through HAProxy rw (ok writes/s)")
        rows = []
        for pair in rates:
            pg, gc = pair["pgbench"], pair["gracectl"]
            rows.append(
                [
                    pair["clients"],
                    pg.get("ok_writes_per_s"),
                    gc.get("ok_writes_per_s"),
                    pair.get("ratio"),
                    gc.get("offered_rate_per_s"),
                    gc.get("process_cpu_pct_mean"),
                    gc.get("process_cpu_pct_max"),
                    gc.get("machine_cpu_pct_mean"),
                    pg.get("process_cpu_pct_mean"),
                    pg.get("machine_cpu_pct_mean"),
                ]
            )
        parts.append(
            table(
                [
                    "C",
                    "pgbench tps",
                    "gracectl ok/s",
                    "ratio",
                    "offered/s",
                    "locust cpu%",
                    "locust max%",
                    "host cpu% (gc)",
                    "pgbench cpu%",
                    "host cpu% (pgb)",
                ],
                rows,
            )
        )
    for co in report.get("coordinated_omission", []):
        parts.append(
            f"\n3. coordinated omission, leader paused {co.get('pause_s')} s, "
            f"offered {co.get('rate')} ops/s (ms)"
        )
        if co.get("error"):
            parts.append(f"error: {co['error']}")
        parts.append(
            f"run: status {co.get('status')}, verdict {co.get('verdict')}, rto_s "
            f"{_f(co.get('rto_s'), 4)}, write_unavailable_s {_f(co.get('write_unavailable_s'))}, "
            f"writes during fault {co.get('writes_during_fault_by_outcome')}"
        )
        if co.get("stopped_processes_after_run"):
            parts.append(
                "processes still SIGSTOPped after the heal: "
                + "; ".join(co["stopped_processes_after_run"])
            )
        csv_rows = co.get("locust_csv", {})
        history = co.get("history", {})
        whole, during = history.get("whole_run", {}), history.get("during_fault", {})
        parts.append(
            table(
                ["figure", "ms"],
                [
                    [
                        "gracectl latency_during_p99 (from intended)",
                        co.get("gracectl_latency_during_p99_ms"),
                    ],
                    ["Locust CSV 99% write (whole run)", csv_rows.get("write", {}).get("p99_ms")],
                    ["Locust CSV 99% read (whole run)", csv_rows.get("read", {}).get("p99_ms")],
                    [
                        "Locust CSV 99% Aggregated (whole run)",
                        csv_rows.get("Aggregated", {}).get("p99_ms"),
                    ],
                    ["history p99 from start, whole run", whole.get("p99_from_start_ms")],
                    ["history p99 from intended, whole run", whole.get("p99_from_intended_ms")],
                    ["history p99 from start, during fault", during.get("p99_from_start_ms")],
                    ["history p99 from intended, during fault", during.get("p99_from_intended_ms")],
                    ["history max from start (end-start)", whole.get("max_from_start_ms")],
                    ["history max from intended (latency_s)", whole.get("max_from_intended_ms")],
                    [
                        "history p99 from intended, during fault, ok only",
                        history.get("during_fault_ok_only", {}).get("p99_from_intended_ms"),
                    ],
                ],
            )
        )
    return "\n".join(parts)


# -- main ----------------------------------------------------------------------------------
def free_block(first: int, size: int) -> int:
    """The first base port from `first` whose `size` ports are all bindable (in range)."""
    import socket

    base = first
    while base + size - 1 <= PORT_MAX:
        busy = False
        for port in range(base, base + size):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    busy = True
                    break
        if not busy:
            return base
        base += 50
    raise RuntimeError(f"no free block of {size} ports in {first}-{PORT_MAX}")


REPO = Path(__file__).resolve().parent.parent


def snapshot_code(code: str) -> Path | None:
    """Copy gracectl/ and loadtests/ (the worktree, or a git revision) to a directory under
    /tmp that every gracectl process of the benchmark imports from (PYTHONPATH); None for
    `live` (the tree itself). Fails early if that code does not import."""
    if code == "live":
        return None
    snap = Path(tempfile.mkdtemp(prefix="gracectl-benchchaos-code-", dir="/tmp"))
    snap.chmod(0o755)
    if code == "worktree":
        for part in ("gracectl", "loadtests"):
            shutil.copytree(REPO / part, snap / part, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", code, "gracectl", "loadtests"],
            capture_output=True,
            check=True,
            timeout=60,
        )
        subprocess.run(["tar", "-x", "-C", str(snap)], input=archive.stdout, check=True, timeout=60)
    check = subprocess.run(
        [sys.executable, "-c", "import gracectl.cli.main, gracectl.runner, gracectl.workload"],
        env={**os.environ, "PYTHONPATH": str(snap)},
        cwd=snap,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check.returncode != 0:
        shutil.rmtree(snap, ignore_errors=True)
        tail = " ".join(check.stderr.strip().splitlines()[-1:])
        raise RuntimeError(f"gracectl at --code {code} does not import: {tail}")
    return snap


def code_identity(code: str) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=30
        )
        return done.stdout.strip()

    return {
        "code": code,
        "head": git("rev-parse", "HEAD"),
        "dirty_paths": git("status", "--porcelain", "--", "gracectl", "loadtests").splitlines(),
    }


def _describe_proc(proc: psutil.Process) -> str:
    try:
        return f"{proc.pid} {proc.status()} {' '.join(a for a in proc.cmdline() if a)[:120]}"
    except psutil.Error:
        return f"{proc.pid} (gone)"


def stopped_processes(home: Path) -> list[psutil.Process]:
    """Processes of the stack (command line or working directory under `home`) in state T."""
    found = []
    for proc in leftover_processes(home):
        with contextlib.suppress(psutil.Error):
            if proc.status() == psutil.STATUS_STOPPED:
                found.append(proc)
    return found


def leftover_processes(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
        except psutil.Error:
            continue
        if str(home) in text and proc.pid != os.getpid():
            found.append(proc)
    return found


def run_all(
    args: argparse.Namespace, stack: Stack, report: dict[str, Any], save: Callable[[], None]
) -> None:
    phases = set(args.only.split(","))
    if "chaos" in phases:
        runs: list[ChaosRun] = []
        report["chaos_runs"] = []
        for kind in args.kinds:
            for index in range(args.runs):
                try:
                    run = chaos_run(stack, kind, index, args.kill_duration)
                except Exception as exc:  # record it and go on
                    run = ChaosRun(kind, index, None, 0.0, error=f"{type(exc).__name__}: {exc}")
                runs.append(run)
                log(
                    f"  -> rto {run.rto_s} lost {run.lost_acked_writes} verdict {run.verdict} "
                    f"{run.error or ''}"
                )
                report["chaos_runs"] = [asdict(r) for r in runs]
                report["rto_summary"] = summarize_rto(runs)
                save()
    if "throughput" in phases:
        report["throughput"] = []
        conn = stack.connection_env()
        workdir = stack.home / "bench"
        workdir.mkdir(exist_ok=True)
        for number, clients in enumerate(args.clients, start=1):
            ready, _, detail = stack.ready()
            if not ready:
                log(f"throughput C={clients}: stack not all running ({detail}), measuring anyway")
            log(f"throughput C={clients}: pgbench")
            try:
                pg = measure_pgbench_cpu(conn, clients, args.bench_duration, workdir, number)
            except Exception as exc:
                pg = Throughput("pgbench", clients, error=f"{type(exc).__name__}: {exc}")
            offered = max(2000.0, args.offered_factor * (pg.ok_writes_per_s or 3000.0))
            log(
                f"throughput C={clients}: pgbench {pg.ok_writes_per_s} tps; gracectl workload "
                f"offered {offered:.0f}/s"
            )
            try:
                gc = run_workload(
                    conn, clients, args.bench_duration, offered, workdir / f"workload-c{clients}"
                )
            except Exception as exc:
                gc = Throughput("gracectl", clients, error=f"{type(exc).__name__}: {exc}")
            ratio = None
            if pg.ok_writes_per_s and gc.ok_writes_per_s is not None:
                ratio = round(gc.ok_writes_per_s / pg.ok_writes_per_s, 3)
            log(
                f"  -> gracectl {gc.ok_writes_per_s}/s, ratio {ratio}, locust cpu "
                f"{gc.process_cpu_pct_mean}% {gc.error or ''}"
            )
            report["throughput"].append(
                {"clients": clients, "pgbench": asdict(pg), "gracectl": asdict(gc), "ratio": ratio}
            )
            save()
    if "co" in phases:
        report["coordinated_omission"] = []
        for rate in args.co_rates:
            try:
                co = coordinated_omission(stack, args.pause, rate)
            except Exception as exc:
                co = {"rate": rate, "error": f"{type(exc).__name__}: {exc}"}
            co["pause_s"] = args.pause
            report["coordinated_omission"].append(co)
            save()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per kill kind (3)")
    parser.add_argument(
        "--kinds",
        type=lambda s: [k for k in s.split(",") if k],
        default=list(KINDS),
        help="kill kinds to run: kill-primary,kill-postmaster (both)",
    )
    parser.add_argument("--kill-duration", type=float, default=45, help="load s per kill run")
    parser.add_argument(
        "--clients",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[4, 8],
        help="client counts for throughput (4,8)",
    )
    parser.add_argument("--bench-duration", type=int, default=15, help="throughput s (15)")
    parser.add_argument(
        "--offered-factor",
        type=float,
        default=3.0,
        help="gracectl offered rate = factor x pgbench tps (min 2000/s)",
    )
    parser.add_argument("--pause", type=float, default=2.0, help="leader pause s (2)")
    parser.add_argument(
        "--co-rates",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[200.0],
        help="offered ops/s of the pause runs, one run each (200: gracectl's default)",
    )
    parser.add_argument("--only", default="chaos,throughput,co", help="phases: chaos,throughput,co")
    parser.add_argument("--base-port", type=int, default=PORT_MIN, help="first base port (27000)")
    parser.add_argument(
        "--existing-home",
        type=Path,
        default=None,
        help="use a running stack there (not brought up, not taken down)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--code",
        default="worktree",
        help="gracectl to run: worktree (a copy taken at start, default), a git revision, "
        "or live (the tree as it is edited)",
    )
    parser.add_argument(
        "--reap-orphans",
        action="store_true",
        help="workaround: when the stack is not all running before a run, SIGKILL orphaned "
        "PostgreSQL backends of this stack (recorded in the run's reason)",
    )
    parser.add_argument(
        "--keep-runs",
        type=Path,
        default=None,
        help="copy the run journals and histories here before down --purge",
    )
    args = parser.parse_args(argv)
    if set(args.kinds) - set(KINDS):
        parser.error(f"--kinds: choose among {', '.join(KINDS)}")
    if not PORT_MIN <= args.base_port <= PORT_MAX - HA_PORTS:
        parser.error(f"--base-port must be within {PORT_MIN}-{PORT_MAX - HA_PORTS}")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        snap = snapshot_code(args.code)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        print(f"cannot use --code {args.code}: {exc}", file=sys.stderr)
        return 2
    if snap is not None:
        # This process (the throughput phase) and every child (gracectl, Locust) import it.
        sys.path.insert(0, str(snap))
        os.environ["PYTHONPATH"] = str(snap)

    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {
            "cpus": psutil.cpu_count(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(),
            "note": "2 cores shared with other agents running their own stacks",
        },
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "code": {**code_identity(args.code), "snapshot": str(snap) if snap else None},
    }

    def save() -> None:
        if args.out:
            args.out.write_text(json.dumps(report, indent=2, default=str))

    owned = args.existing_home is None
    if owned:
        home = Path(tempfile.mkdtemp(prefix="gracectl-benchchaos-", dir="/tmp"))
        home.chmod(0o755)
        base_port = free_block(args.base_port, HA_PORTS)
    else:
        home = args.existing_home.resolve()
        base_port = args.base_port
    stack = Stack(home, base_port, gracectl_env(home, base_port), args.reap_orphans)
    report["home"], report["base_port"] = str(home), base_port
    code = 0
    try:
        if owned:
            log(f"gracectl up --profile ha (GRACECTL_HOME={home}, base port {base_port})")
            up = stack.gracectl(["up", "--profile", "ha"], UP_TIMEOUT_S)
            report["up"] = {"rc": up.rc, "elapsed_s": round(up.elapsed_s, 1)}
            if up.rc != 0:
                report["up"]["tail"] = up.tail()
                log(f"up failed: {up.tail()}")
                return 2
        run_all(args, stack, report, save)
    except (KeyboardInterrupt, Terminated) as exc:
        report["interrupted"] = type(exc).__name__
        code = 130
    finally:
        if owned:
            stopped = stopped_processes(home)
            if stopped:
                report["resumed_before_down"] = [_describe_proc(p) for p in stopped]
                for proc in stopped:
                    with contextlib.suppress(psutil.Error):
                        proc.send_signal(signal.SIGCONT)
            if args.keep_runs is not None and (home / "runs").is_dir():
                shutil.copytree(home / "runs", args.keep_runs, dirs_exist_ok=True)
                report["runs_kept_in"] = str(args.keep_runs)
            log("gracectl down --purge")
            down = stack.gracectl(["down", "--purge"], DOWN_TIMEOUT_S)
            report["down"] = {"rc": down.rc, "elapsed_s": round(down.elapsed_s, 1)}
            if down.rc != 0:
                report["down"]["tail"] = down.tail()
            left = leftover_processes(home)
            report["leftover_processes"] = [
                f"{p.pid} {' '.join(p.cmdline()[:4])}" for p in left if p.is_running()
            ]
            for proc in left:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        report["orphan_backends_killed"] = stack.reaped
        report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        save()
        if snap is not None:
            shutil.rmtree(snap, ignore_errors=True)
        print(render(report))
    failures = [r for r in report.get("chaos_runs", []) if r.get("error")]
    if code == 0 and (failures or report.get("leftover_processes")):
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
