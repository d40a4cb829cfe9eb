#!/usr/bin/env python3
"""Benchmark `gracectl up`: cold and warm wall time per profile, and the idle stack's cost.

For each profile and each of N runs, in a fresh GRACECTL_HOME under /tmp (mode 0755 so the
service user can reach it):

1. cold `up` (initdb, basebackups) is timed;
2. the stack is left idle (``--settle`` s), then the PSS of every process of the stack
   (supervisord and all its descendants, plus the postmasters Patroni detaches and their
   backends) is summed per kind,
   then the stack's CPU use is measured over an idle window (``--cpu-window`` s);
3. `down` (data kept), then a warm `up` on the same data is timed;
4. `down --purge`, always, in a finally block (also on Ctrl-C / SIGTERM), then a check that
   no process of the stack is left (any straggler is killed and reported).

Only the real CLI is used (``python -m gracectl``). Ports stay in 29000-29900, below the
ephemeral range.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

GRACECTL = [sys.executable, "-m", "gracectl"]
REPO = Path(__file__).resolve().parent.parent
PORT_MIN, PORT_MAX = 29000, 29900
# Each run takes the next block of ports in the range (a port that a stray connection holds
# as its ephemeral source port only costs a retry in the next block).
PORT_BLOCK = 50
PORT_CONFLICT = ("already in use", "Address already in use")
UP_TIMEOUT_S = 300.0
DOWN_TIMEOUT_S = 300.0
STATUS_TIMEOUT_S = 60.0
KINDS = ("etcd", "postgres", "haproxy", "redis", "sentinel", "supervisord")
# Environment variables passed through to gracectl (everything else GRACECTL_* is dropped).
PASSTHROUGH = ("GRACECTL_TIMEOUT_MULTIPLIER",)
_UP_REPORTED = re.compile(r"stack up in ([0-9.]+) s")


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that finally blocks (the purge) still run."""


class BenchError(Exception):
    """A gracectl command failed or timed out during a run."""


# -- running the CLI -----------------------------------------------------------------------
@dataclass(frozen=True)
class Sandbox:
    """One GRACECTL_HOME for one run: `root` (0755) holds `home` and an empty `cwd`."""

    root: Path
    home: Path
    cwd: Path
    base_port: int
    code: Path | None  # directory holding the gracectl package to run (None: the installed one)

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("GRACECTL_") or k in PASSTHROUGH
        }
        env.update(
            GRACECTL_HOME=str(self.home), GRACECTL_BASE_PORT=str(self.base_port), COLUMNS="500"
        )
        if self.code is not None:
            env["PYTHONPATH"] = str(self.code)
        return env

    def run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run `gracectl ARGS` in its own session (a terminal Ctrl-C reaches only us)."""
        return subprocess.run(
            [*GRACECTL, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            cwd=self.cwd,
            check=False,
            start_new_session=True,
        )

    def run_ok(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            done = self.run(*args, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            what = " ".join(args)
            raise BenchError(f"`gracectl {what}` timed out after {timeout:.0f} s") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise BenchError(f"`gracectl {' '.join(args)}` exited {done.returncode}:\n{tail}")
        return done


def make_sandbox(base_port: int, code: Path | None) -> Sandbox:
    root = Path(tempfile.mkdtemp(prefix="gracectl-bench-", dir="/tmp"))
    root.chmod(0o755)
    cwd = root / "cwd"
    cwd.mkdir()
    return Sandbox(root=root, home=root / "home", cwd=cwd, base_port=base_port, code=code)


@dataclass(frozen=True)
class CodeSnapshot:
    """The gracectl package the runs use. A frozen copy (of the working tree or of a git
    revision) keeps every run, and every purge, on the same code even when the working tree
    changes meanwhile."""

    mode: str  # worktree: a copy of the working tree; live: the tree itself; else a git rev
    path: Path | None  # put on PYTHONPATH; None for live
    git_head: str
    dirty: bool
    sha256: str


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, check=False)


def _tree_digest(package: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _export_rev(rev: str, dest: Path) -> None:
    archive = _git("archive", "--format=tar", rev, "gracectl")
    if archive.returncode != 0:
        raise BenchError(f"git archive {rev} failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def snapshot_code(mode: str) -> CodeSnapshot:
    rev = "HEAD" if mode in ("worktree", "live") else mode
    head = _git("rev-parse", "--short", f"{rev}^{{commit}}").stdout.decode().strip()
    dirty = bool(_git("status", "--porcelain", "--", "gracectl").stdout.strip())
    if mode == "live":
        return CodeSnapshot(mode, None, head, dirty, _tree_digest(REPO / "gracectl"))
    dest = Path(tempfile.mkdtemp(prefix="gracectl-bench-code-", dir="/tmp"))
    dest.chmod(0o755)
    try:
        if mode == "worktree":
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(REPO / "gracectl", dest / "gracectl", ignore=ignore)
        else:
            _export_rev(mode, dest)
            dirty = False
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return CodeSnapshot(mode, dest, head, dirty, _tree_digest(dest / "gracectl"))


def port_offsets(code: Path | None, profile: str) -> list[int]:
    """The profile's port plan as offsets from GRACECTL_BASE_PORT (`gracectl config show`)."""
    probe = make_sandbox(PORT_MIN, code)
    try:
        done = probe.run_ok("config", "show", "--profile", profile, "--ports", timeout=60)
    finally:
        shutil.rmtree(probe.root, ignore_errors=True)
    ports = json.loads(done.stdout)["ports"]
    return sorted(p - PORT_MIN for node in ports.values() for p in node.values())


def _bindable(port: int) -> bool:
    """Strict: no SO_REUSEADDR, so a port in TIME_WAIT or used as a source port is busy too."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortBlocks:
    """Hands out base ports, a block at a time, round-robin over PORT_MIN-PORT_MAX."""

    def __init__(self, first: int) -> None:
        self._next = first

    def take(self, offsets: list[int]) -> int:
        span = offsets[-1]
        if PORT_MIN + span > PORT_MAX:
            raise BenchError(f"a plan of {span + 1} ports does not fit {PORT_MIN}-{PORT_MAX}")
        for _ in range((PORT_MAX - PORT_MIN) // PORT_BLOCK + 1):
            base = self._next
            self._next += PORT_BLOCK
            if self._next + span > PORT_MAX:
                self._next = PORT_MIN
            if base + span <= PORT_MAX and all(_bindable(base + o) for o in offsets):
                return base
        raise BenchError(f"no block of {span + 1} free ports in {PORT_MIN}-{PORT_MAX}")


# -- timing up -----------------------------------------------------------------------------
@dataclass
class UpTiming:
    wall_s: float
    reported_s: float | None  # gracectl's own "stack up in X s" (excludes interpreter start)


def timed_up(box: Sandbox, profile: str) -> UpTiming:
    started = time.perf_counter()
    done = box.run_ok("up", "--profile", profile, timeout=UP_TIMEOUT_S)
    wall = time.perf_counter() - started
    if "already up" in done.stderr:
        raise BenchError("`up` found the stack already running; the timing would be meaningless")
    match = _UP_REPORTED.search(done.stderr)
    return UpTiming(wall_s=wall, reported_s=float(match.group(1)) if match else None)


# -- the stack's processes -----------------------------------------------------------------
ProcKey = tuple[int, float]  # (pid, create_time): a PID alone may be recycled
Tree = dict[ProcKey, tuple[str, psutil.Process]]  # every process of the stack, with its kind


def _key(proc: psutil.Process) -> ProcKey:
    return proc.pid, proc.create_time()


def supervisord_pid(box: Sandbox) -> int:
    pidfile = box.home / "run" / "supervisord.pid"
    return int(pidfile.read_text().strip())


def component_pids(box: Sandbox) -> tuple[dict[int, str], list[str]]:
    """pid -> kind from `gracectl status --json`, and the names of components not running."""
    done = box.run_ok("status", "--json", timeout=STATUS_TIMEOUT_S)
    status = json.loads(done.stdout)
    pids = {c["pid"]: c["kind"] for c in status["components"] if c.get("pid")}
    unhealthy = [c["name"] for c in status["components"] if c["state"] != "running"]
    return pids, unhealthy


# Kind of a process by executable name, for stack processes found outside supervisord's tree.
_KIND_BY_NAME = {
    "etcd": "etcd",
    "postgres": "postgres",
    "patroni": "postgres",
    "haproxy": "haproxy",
    "redis-server": "redis",
    "redis-sentinel": "sentinel",
}


def _family(top: psutil.Process) -> list[psutil.Process]:
    try:
        return [top, *top.children(recursive=True)]
    except psutil.Error:
        return [top]


def _kind_of(family: list[psutil.Process], kinds_by_pid: dict[int, str]) -> str:
    """The status component whose PID is in the family, else a guess from the top's name."""
    for proc in family:
        if proc.pid in kinds_by_pid:
            return kinds_by_pid[proc.pid]
    try:
        name = os.path.basename(family[0].cmdline()[0]).split()[0]
    except (psutil.Error, IndexError):
        return "other"
    return _KIND_BY_NAME.get(name, "other")


def _add_family(tree: Tree, top: psutil.Process, kinds_by_pid: dict[int, str]) -> None:
    family = _family(top)
    kind = _kind_of(family, kinds_by_pid)
    for proc in family:
        with contextlib.suppress(psutil.Error):
            tree[_key(proc)] = (kind, proc)


def stack_tree(box: Sandbox, kinds_by_pid: dict[int, str]) -> tuple[Tree, int]:
    """Every process of the stack with its kind, and how many are outside supervisord's tree.

    That is supervisord and all its descendants, plus the processes whose command line names
    GRACECTL_HOME and their descendants: Patroni starts the postmaster detached (re-parented
    to PID 1), so PostgreSQL and its backends are not supervisord's descendants.
    """
    daemon = psutil.Process(supervisord_pid(box))
    tree: Tree = {_key(daemon): ("supervisord", daemon)}
    for child in daemon.children():
        _add_family(tree, child, kinds_by_pid)
    supervised = len(tree)
    known = {key[0] for key in tree}
    for proc in processes_mentioning(f"{box.home}/"):
        if proc.pid not in known and proc.pid != os.getpid():
            _add_family(tree, proc, kinds_by_pid)
            known = {key[0] for key in tree}
    return tree, len(tree) - supervised


def processes_mentioning(fragment: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(fragment in arg for arg in proc.info["cmdline"] or []):
                found.append(proc)
    return found


# -- idle cost -----------------------------------------------------------------------------
@dataclass
class KindUsage:
    processes: int = 0
    pss_mib: float = 0.0
    rss_mib: float = 0.0
    uss_mib: float = 0.0
    cpu_percent: float = 0.0  # of one core, over the idle window


@dataclass
class IdleSample:
    kinds: dict[str, KindUsage]
    total: KindUsage
    outside_supervisord: int  # stack processes not descending from supervisord (postgres)
    unhealthy: list[str]
    machine_cpu_percent: float  # whole machine, all cores, during the window
    loadavg_1m: float
    settle_s: float
    window_s: float


def _cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of the process plus that of the children it has reaped (short-lived ones)."""
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def memory_by_kind(tree: Tree) -> dict[str, KindUsage]:
    usage = {kind: KindUsage() for kind in KINDS}
    mib = 1024.0 * 1024.0
    for kind, proc in tree.values():
        try:
            mem = proc.memory_full_info()
        except psutil.Error:
            continue
        slot = usage.setdefault(kind, KindUsage())
        slot.processes += 1
        slot.pss_mib += mem.pss / mib
        slot.rss_mib += mem.rss / mib
        slot.uss_mib += mem.uss / mib
    return usage


def cpu_snapshot(tree: Tree) -> dict[ProcKey, float]:
    snap = {}
    for key, (_, proc) in tree.items():
        with contextlib.suppress(psutil.Error):
            snap[key] = _cpu_seconds(proc)
    return snap


def add_cpu(
    usage: dict[str, KindUsage],
    after: Tree,
    before: dict[ProcKey, float],
    end: dict[ProcKey, float],
    window_s: float,
) -> None:
    """CPU% per kind over the window; a process born in the window counts its whole life."""
    for key, seconds in end.items():
        kind = after[key][0]
        used = max(0.0, seconds - before.get(key, 0.0))
        usage.setdefault(kind, KindUsage()).cpu_percent += 100.0 * used / window_s


def total_of(usage: dict[str, KindUsage]) -> KindUsage:
    total = KindUsage()
    for slot in usage.values():
        total.processes += slot.processes
        total.pss_mib += slot.pss_mib
        total.rss_mib += slot.rss_mib
        total.uss_mib += slot.uss_mib
        total.cpu_percent += slot.cpu_percent
    return total


def measure_idle(box: Sandbox, settle_s: float, window_s: float, seen: set[ProcKey]) -> IdleSample:
    """Idle `settle_s`, sum PSS per kind, then CPU over `window_s`. Adds every PID to `seen`."""
    kinds_by_pid, unhealthy = component_pids(box)
    time.sleep(settle_s)
    tree, outside = stack_tree(box, kinds_by_pid)
    usage = memory_by_kind(tree)
    psutil.cpu_percent(interval=None)
    started = time.monotonic()
    before = cpu_snapshot(tree)
    time.sleep(window_s)
    after, _ = stack_tree(box, kinds_by_pid)
    end = cpu_snapshot(after)
    window = time.monotonic() - started
    machine = psutil.cpu_percent(interval=None)
    add_cpu(usage, after, before, end, window)
    seen.update(tree)
    seen.update(after)
    return IdleSample(
        kinds=usage,
        total=total_of(usage),
        outside_supervisord=outside,
        unhealthy=unhealthy,
        machine_cpu_percent=machine,
        loadavg_1m=os.getloadavg()[0],
        settle_s=settle_s,
        window_s=window,
    )


# -- cleanup -------------------------------------------------------------------------------
def _alive(seen: set[ProcKey]) -> list[psutil.Process]:
    alive = []
    for pid, created in seen:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) < 0.05 and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    return alive


def leftovers(box: Sandbox, seen: set[ProcKey]) -> list[psutil.Process]:
    found = {p.pid: p for p in _alive(seen)}
    for proc in processes_mentioning(f"{box.home}/"):
        if proc.pid != os.getpid():
            found[proc.pid] = proc
    return list(found.values())


def kill_all(procs: list[psutil.Process]) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Shield the purge from a second Ctrl-C / SIGTERM."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def purge(box: Sandbox, seen: set[ProcKey], problems: list[str]) -> None:
    """`down --purge`, then kill and report anything of the stack still alive."""
    with signals_ignored():
        remember_stack(box, seen)
        if box.home.exists():
            down_purge(box, problems)
        left = leftovers(box, seen)
        if left:
            problems.append(
                f"{box.home}: {len(left)} process(es) alive after down --purge, killed: "
                + ", ".join(f"{p.pid}" for p in left)
            )
            kill_all(left)
        shutil.rmtree(box.root, ignore_errors=True)


def remember_stack(box: Sandbox, seen: set[ProcKey]) -> None:
    """Record the stack's processes before `down`, so that stragglers are recognised even
    when the stack never became ready (Redis rewrites its command line)."""
    with contextlib.suppress(OSError, ValueError, psutil.Error):
        tree, _ = stack_tree(box, {})
        seen.update(tree)


def down_purge(box: Sandbox, problems: list[str], attempts: int = 3) -> None:
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            time.sleep(5)
        try:
            box.run_ok("down", "--purge", timeout=DOWN_TIMEOUT_S)
            return
        except BenchError as exc:
            problems.append(f"{box.home}: down --purge failed (attempt {attempt}): {exc}")


@contextlib.contextmanager
def sandbox(
    base_port: int, code: Path | None, problems: list[str]
) -> Iterator[tuple[Sandbox, set[ProcKey]]]:
    box = make_sandbox(base_port, code)
    seen: set[ProcKey] = set()
    try:
        yield box, seen
    finally:
        purge(box, seen, problems)


# -- one profile ---------------------------------------------------------------------------
@dataclass
class RunResult:
    base_port: int
    cold: UpTiming | None = None
    warm: UpTiming | None = None
    idle: IdleSample | None = None
    error: str | None = None
    retried_after: list[str] = field(default_factory=list)  # port conflicts before this one


@dataclass
class ProfileResult:
    profile: str
    ports: int
    runs: list[RunResult] = field(default_factory=list)


@dataclass
class BenchContext:
    code: Path | None
    blocks: PortBlocks
    problems: list[str]


def one_run(box: Sandbox, seen: set[ProcKey], profile: str, args: argparse.Namespace) -> RunResult:
    result = RunResult(base_port=box.base_port)
    try:
        result.cold = timed_up(box, profile)
        say(f"  cold up {result.cold.wall_s:6.1f} s", end="")
        result.idle = measure_idle(box, args.settle, args.cpu_window, seen)
        say(f"  idle PSS {result.idle.total.pss_mib:7.1f} MiB", end="")
        box.run_ok("down", timeout=DOWN_TIMEOUT_S)
        result.warm = timed_up(box, profile)
        say(f"  warm up {result.warm.wall_s:6.1f} s")
    except (BenchError, OSError, ValueError, psutil.Error) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        say(f"\n  FAILED (base port {box.base_port}): {exc}")
    return result


def port_conflict(result: RunResult) -> bool:
    return result.error is not None and any(s in result.error for s in PORT_CONFLICT)


def run_with_retries(
    profile: str, args: argparse.Namespace, ctx: BenchContext, offsets: list[int]
) -> RunResult:
    """One run; a port conflict (not gracectl's fault) is retried on the next port block."""
    failed: list[str] = []
    for attempt in range(1, args.attempts + 1):
        base = ctx.blocks.take(offsets)
        with sandbox(base, ctx.code, ctx.problems) as (box, seen):
            result = one_run(box, seen, profile, args)
        if not port_conflict(result) or attempt == args.attempts:
            break
        failed.append(f"base port {base}: {result.error}")
        say("  retrying on other ports:", end="")
    result.retried_after = failed
    return result


def bench_profile(profile: str, args: argparse.Namespace, ctx: BenchContext) -> ProfileResult:
    offsets = port_offsets(ctx.code, profile)
    outcome = ProfileResult(profile=profile, ports=len(offsets))
    say(f"profile {profile}: {len(offsets)} ports per stack, {args.runs} run(s)")
    for i in range(args.runs):
        say(f" run {i + 1}/{args.runs}:", end="")
        outcome.runs.append(run_with_retries(profile, args, ctx, offsets))
    return outcome


# -- summary -------------------------------------------------------------------------------
def spread(values: list[float]) -> dict[str, float | int] | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def summarize(result: ProfileResult) -> dict[str, Any]:
    colds = [r.cold for r in result.runs if r.cold]
    warms = [r.warm for r in result.runs if r.warm]
    idles = [r.idle for r in result.runs if r.idle]
    kinds = sorted({k for s in idles for k in s.kinds}, key=_kind_order)
    return {
        "cold_up_s": spread([t.wall_s for t in colds]),
        "warm_up_s": spread([t.wall_s for t in warms]),
        "cold_up_reported_s": spread([t.reported_s for t in colds if t.reported_s is not None]),
        "warm_up_reported_s": spread([t.reported_s for t in warms if t.reported_s is not None]),
        "idle": {
            kind: {
                "processes": spread([float(s.kinds[kind].processes) for s in idles]),
                "pss_mib": spread([s.kinds[kind].pss_mib for s in idles]),
                "cpu_percent": spread([s.kinds[kind].cpu_percent for s in idles]),
            }
            for kind in kinds
        }
        | {
            "total": {
                "processes": spread([float(s.total.processes) for s in idles]),
                "pss_mib": spread([s.total.pss_mib for s in idles]),
                "rss_mib": spread([s.total.rss_mib for s in idles]),
                "uss_mib": spread([s.total.uss_mib for s in idles]),
                "cpu_percent": spread([s.total.cpu_percent for s in idles]),
            }
        },
        "machine_cpu_percent_during_window": spread([s.machine_cpu_percent for s in idles]),
        "processes_outside_supervisord": spread([float(s.outside_supervisord) for s in idles]),
        "unhealthy_at_idle": sorted({name for s in idles for name in s.unhealthy}),
        "failed_runs": sum(1 for r in result.runs if r.error),
        "port_conflict_retries": sum(len(r.retried_after) for r in result.runs),
    }


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _fmt(s: dict[str, float | int] | None, unit: str = "", digits: int = 1) -> str:
    if s is None:
        return "n/a"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def print_tables(summaries: dict[str, dict[str, Any]]) -> None:
    say("\n`gracectl up` wall time, median (min-max) over successful runs")
    say(f"{'profile':<8} {'cold':>24} {'warm':>24}")
    for profile, s in summaries.items():
        say(f"{profile:<8} {_fmt(s['cold_up_s'], ' s'):>24} {_fmt(s['warm_up_s'], ' s'):>24}")
    for profile, s in summaries.items():
        say(f"\nidle stack, profile {profile}: median (min-max) per run")
        say(f"{'kind':<12} {'procs':>6} {'PSS MiB':>26} {'CPU % of a core':>26}")
        for kind, v in s["idle"].items():
            procs = v["processes"]["median"] if v["processes"] else 0
            say(
                f"{kind:<12} {procs:>6.0f} {_fmt(v['pss_mib']):>26} "
                f"{_fmt(v['cpu_percent'], digits=2):>26}"
            )
        say(
            f"machine CPU % (all cores) during the windows: "
            f"{_fmt(s['machine_cpu_percent_during_window'])}"
        )
        say(
            "processes outside supervisord's tree (detached postmasters and backends): "
            f"{_fmt(s['processes_outside_supervisord'], digits=0)}"
        )
        if s["unhealthy_at_idle"]:
            say(f"NOT running at idle time: {', '.join(s['unhealthy_at_idle'])}")


def say(text: str, end: str = "\n") -> None:
    print(text, end=end, flush=True)


# -- main ----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per profile (default 3)")
    parser.add_argument(
        "--profile",
        choices=("ha", "dev"),
        action="append",
        help="profile to benchmark, repeatable (default: ha and dev)",
    )
    parser.add_argument(
        "--base-port",
        type=int,
        default=PORT_MIN,
        help=f"first GRACECTL_BASE_PORT; each run takes the next block of {PORT_BLOCK} "
        f"ports, round-robin within {PORT_MIN}-{PORT_MAX}",
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="tries per run when a planned port turns out taken (default 3)",
    )
    parser.add_argument("--settle", type=float, default=10.0, help="idle seconds before PSS")
    parser.add_argument("--cpu-window", type=float, default=10.0, help="idle CPU window, s")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--code",
        default="worktree",
        help="gracectl to run: 'worktree' (a copy of the working tree taken at start, the "
        "default), 'live' (the working tree itself), or a git revision (e.g. HEAD)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.attempts < 1:
        parser.error("--runs and --attempts must be at least 1")
    if not PORT_MIN <= args.base_port <= PORT_MAX:
        parser.error(f"--base-port must be within {PORT_MIN}-{PORT_MAX}")
    return args


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def environment() -> dict[str, Any]:
    return {
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "mem_total_mib": psutil.virtual_memory().total / 1024 / 1024,
        "loadavg_at_start": os.getloadavg(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "timeout_multiplier": os.environ.get("GRACECTL_TIMEOUT_MULTIPLIER"),
    }


def write_json(
    out: Path,
    args: argparse.Namespace,
    env: dict[str, Any],
    code: CodeSnapshot,
    results: list[ProfileResult],
    problems: list[str],
) -> None:
    document = {
        "environment": env,
        "code": {
            "mode": code.mode,
            "git_head": code.git_head,
            "dirty": code.dirty,
            "sha256": code.sha256,
        },
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "summary": {r.profile: summarize(r) for r in results},
        "runs": {r.profile: asdict(r) for r in results},
        "problems": problems,
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    say(f"JSON written to {out}")


def run_all(
    args: argparse.Namespace, code: Path | None, problems: list[str]
) -> list[ProfileResult]:
    profiles: list[str] = args.profile or ["ha", "dev"]
    ctx = BenchContext(code=code, blocks=PortBlocks(args.base_port), problems=problems)
    return [bench_profile(profile, args, ctx) for profile in profiles]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Even when started in the background with SIGINT ignored: `kill -INT` must clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    problems: list[str] = []
    env = environment()
    try:
        code = snapshot_code(args.code)
    except (BenchError, OSError, subprocess.CalledProcessError) as exc:
        say(f"cannot snapshot gracectl: {exc}")
        return 2
    local = " + local changes" if code.dirty else ""
    say(f"gracectl: {code.mode}, git {code.git_head}{local}, sha256 {code.sha256}")
    try:
        results = run_all(args, code.path, problems)
    except (KeyboardInterrupt, Terminated):
        say("\ninterrupted; the stacks started were purged")
        return 130
    except BenchError as exc:
        say(f"cannot run: {exc}")
        return 2
    finally:
        if code.path is not None:
            shutil.rmtree(code.path, ignore_errors=True)
    print_tables({r.profile: summarize(r) for r in results})
    for problem in problems:
        say(f"problem: {problem}")
    if args.out:
        write_json(args.out, args, env, code, results, problems)
    failed = any(r.error for res in results for r in res.runs)
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
