"""One capacity step run by Locust (`loadtests/capacity.py`) as a subprocess with one worker
process per core, its CPU sampled meanwhile, its per-process reports merged into a RawStep.

One Locust invocation per step: the search decides each rate from the step before, and a
fresh process per step starts from a clean slate (connections, tallies, memory). The cost is
Locust's start (a second or two), which falls before the schedule's common start time and
so is never counted as load or latency.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gracectl.capacity.cpu import CpuSampler, busiest_utilization, machine_utilization
from gracectl.capacity.model import CapacityComponent
from gracectl.capacity.search import RawStep
from gracectl.capacity.tally import merge_reports, read_reports
from gracectl.errors import GracectlError
from gracectl.load_process import LoadProcess
from gracectl.topology import port_is_free
from gracectl.waiting import timeout_multiplier

log = logging.getLogger(__name__)

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "capacity.py"
OUTPUT_NAME = "locust.out"
REPORTS_DIR_NAME = "reports"
#: Locust imports, forks its workers and connects its users before the schedules start.
START_DELAY_S = 4.0
OP_TIMEOUT_S = 2.0
LATE_TOLERANCE_S = 0.05


class CapacityError(GracectlError):
    """A capacity step could not be run or read back."""


@dataclass(frozen=True)
class UserSizing:
    """How many users a rate needs: each sends at most `per_user_rate` ops/s, so a user is
    idle most of the time at low-load latencies and one slow answer delays few sends (an
    open model would send each on its own). Beyond `max_users` the users send faster."""

    user_class: str
    per_user_rate: float
    min_users: int
    max_users: int  # PostgreSQL: connections are a server resource too


SIZING: dict[CapacityComponent, UserSizing] = {
    "postgres-write": UserSizing("PostgresWriteUser", 25.0, 4, 64),
    "postgres-read": UserSizing("PostgresReadUser", 25.0, 4, 64),
    "redis": UserSizing("RedisUser", 50.0, 4, 512),
    "http": UserSizing("HttpUser", 25.0, 4, 512),
}


def users_for(component: CapacityComponent, rate: float, processes: int) -> int:
    """Enough users for `rate`, a multiple of `processes` so each process gets as many."""
    sizing = SIZING[component]
    wanted = min(sizing.max_users, max(sizing.min_users, math.ceil(rate / sizing.per_user_rate)))
    return math.ceil(wanted / processes) * processes


@dataclass(frozen=True)
class LocustStepRun:
    output_path: Path
    exit_code: int | None
    stopped: bool
    killed: bool


class CapacityLocust(LoadProcess[LocustStepRun]):
    """`locust -f loadtests/capacity.py --processes N <UserClass>` for one step."""

    label = "capacity locust"
    error_type = CapacityError

    def __init__(
        self,
        component: CapacityComponent,
        rate: float,
        duration_s: float,
        run_dir: Path,
        connection: Mapping[str, str],
        processes: int,
        start_at: float,
        master_port: int,
        table: str = "",
        read_rows: int = 0,
        target: str = "",
    ) -> None:
        if component not in SIZING:
            raise CapacityError(f"capacity: no Locust user for {component}")
        super().__init__(run_dir)
        self.component = component
        self.rate = rate
        self.duration_s = duration_s
        self.connection = dict(connection)
        self.processes = processes
        self.users = users_for(component, rate, processes)
        self.start_at = start_at
        self.master_port = master_port
        self.table = table
        self.read_rows = read_rows
        self.target = target

    @property
    def output_path(self) -> Path:
        return self.run_dir / OUTPUT_NAME

    @property
    def reports_dir(self) -> Path:
        return self.run_dir / REPORTS_DIR_NAME

    def command(self) -> list[str]:
        bound_s = math.ceil(self.start_at - time.time() + self.duration_s + 2 * OP_TIMEOUT_S + 15)
        # Each run its own master port, on loopback: with the default 5557, the workers of
        # a Locust whose master could not bind (another run had it) join the wrong master.
        processes = (
            ["--processes", str(self.processes),
             "--master-bind-host", "127.0.0.1", "--master-bind-port", str(self.master_port),
             "--master-host", "127.0.0.1", "--master-port", str(self.master_port)]
            if self.processes > 1 else []
        )  # fmt: skip
        return [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
            "--headless", "--only-summary",
            "-u", str(self.users), "-r", str(self.users),
            "--run-time", f"{max(bound_s, 10)}s",
            "--exit-code-on-error", "0",
            *processes,
            SIZING[self.component].user_class,
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRACE_", "LOCUST_"))}
        env.update(self.connection)
        env.update({
            "GRACE_CAP_RATE": repr(self.rate),
            "GRACE_CAP_USERS": str(self.users),
            "GRACE_CAP_DURATION_S": repr(self.duration_s),
            "GRACE_CAP_START_AT": repr(self.start_at),
            "GRACE_CAP_OUT": str(self.reports_dir),
            "GRACE_CAP_PROCESSES": str(self.processes),
            "GRACE_CAP_OP_TIMEOUT_S": repr(OP_TIMEOUT_S),
            "GRACE_CAP_LATE_TOLERANCE_S": repr(LATE_TOLERANCE_S),
            "GRACE_CAP_TABLE": self.table,
            "GRACE_CAP_READ_ROWS": str(self.read_rows),
            "GRACE_CAP_TARGET": self.target,
            "PYTHONUNBUFFERED": "1",
        })  # fmt: skip
        return env

    def _before_start(self) -> None:
        self.reports_dir.mkdir(parents=True, exist_ok=True)

    def _started(self) -> str:
        return (
            f"{self.component} at {self.rate:g}/s, {self.users} users in "
            f"{self.processes} process(es), for {self.duration_s:g} s -> {self.run_dir}"
        )

    def default_timeout_s(self) -> float:
        slack = self.start_at - time.time() + 2 * OP_TIMEOUT_S + 20
        return (self.duration_s + slack) * timeout_multiplier()

    def _make_result(self, exit_code: int | None, stopped: bool, killed: bool) -> LocustStepRun:
        return LocustStepRun(self.output_path, exit_code, stopped, killed)


def free_port(candidates: range) -> int:
    """The first port of `candidates` free on loopback."""
    port = next((p for p in candidates if port_is_free(p)), None)
    if port is None:
        raise CapacityError(f"capacity: no free port for Locust's master in "
                            f"{candidates.start}..{candidates.stop - 1}",
                            hint="stop what listens there, or change base_port")  # fmt: skip
    return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_locust_step(
    component: CapacityComponent,
    rate: float,
    duration_s: float,
    run_dir: Path,
    connection: Mapping[str, str],
    *,
    processes: int,
    master_ports: range,
    table: str = "",
    read_rows: int = 0,
    target: str = "",
) -> RawStep:
    """Run one step and count it; CapacityError if Locust left no report to count.
    `master_ports`: where to look for a free port for Locust's master (loopback)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    start_at = time.time() + START_DELAY_S * timeout_multiplier()
    load = CapacityLocust(component, rate, duration_s, run_dir, connection, processes,
                          start_at, free_port(master_ports), table=table, read_rows=read_rows,
                          target=target)  # fmt: skip
    with load:
        assert load.pid is not None
        with CpuSampler(load.pid) as sampler:
            result = load.wait()
    reports = read_reports(load.reports_dir)
    if not reports:
        raise CapacityError(
            f"capacity: {component} step at {rate:g}/s left no report "
            f"(Locust exit {result.exit_code})",
            hint=f"see {result.output_path}",
            details=_tail(result.output_path),
        )
    if len(reports) < processes:
        log.warning("%s at %g/s: %d of %d load processes reported",
                    component, rate, len(reports), processes)  # fmt: skip
    window = (start_at + 0.5, start_at + duration_s)
    return merge_reports(
        reports,
        offered_rate=rate,
        duration_s=duration_s,
        generator_cpu=busiest_utilization(sampler.samples, *window),
        machine_cpu=machine_utilization(sampler.samples, *window, os.cpu_count() or 1),
    )
