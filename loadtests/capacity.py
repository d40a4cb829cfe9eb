"""Open-model load for one step of `gracectl capacity`: every user sends on a schedule
(operation k planned at t0 + k / rate_per_user), measures latency from the planned time and
never skips a send it is late for; per process, a StepTally counts the step and is written
as <GRACE_CAP_OUT>/proc-<pid>.json once the process's users are done. Run with
`--processes N` so every core generates load; the master (or the single local process)
quits as soon as every worker's report is there.

Users (one class per component, chosen on the command line):
  PostgresWriteUser   single-row INSERT through the read-write endpoint (GRACE_PG_RW_DSN)
  PostgresReadUser    point SELECT by primary key through the read-only endpoint
                      (GRACE_PG_RO_DSN) on a table gracectl seeded with GRACE_CAP_READ_ROWS rows
  RedisUser           SET and GET in turn on the master the Sentinels name
  HttpUser            GET of GRACE_CAP_TARGET (one keep-alive connection per user)

Configured by the environment (gracectl.capacity.locust_step sets it): GRACE_CAP_RATE (total
ops/s), GRACE_CAP_USERS (total users over all processes), GRACE_CAP_DURATION_S,
GRACE_CAP_START_AT (Unix time the schedules start; a user connected later starts then),
GRACE_CAP_OUT, GRACE_CAP_PROCESSES, GRACE_CAP_OP_TIMEOUT_S, GRACE_CAP_LATE_TOLERANCE_S,
GRACE_CAP_TABLE, GRACE_CAP_READ_ROWS, GRACE_CAP_TARGET, and the stack's GRACE_PG_* /
GRACE_REDIS_* variables.

Every operation is also reported through `events.request` (latency from the planned time),
so Locust's own summary in the step's locust.out is a cross-check of gracectl's figures.
A greenlet per process sleeps 50 ms in a loop and records how late it wakes: the longest
event-loop stall during the schedule goes into the report.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from pathlib import Path
from typing import Any, ClassVar

import gevent
import psycopg
import redis
from geventhttpclient import URL, HTTPClient
from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import LocalRunner, MasterRunner
from psycopg import sql

from gracectl.bus.factory import parse_endpoints
from gracectl.bus.redis_streams import sentinel_client, socket_timeouts
from gracectl.capacity.tally import REPORT_GLOB, StepTally, write_report
from gracectl.load_env import describe_error, env_float, env_int, use_cooperative_psycopg_wait

log = logging.getLogger("gracectl.loadtests.capacity")

use_cooperative_psycopg_wait(log)


RATE = env_float("GRACE_CAP_RATE", 100.0)
USERS = max(1, env_int("GRACE_CAP_USERS", 4))
DURATION_S = env_float("GRACE_CAP_DURATION_S", 5.0)
START_AT = env_float("GRACE_CAP_START_AT", 0.0)
OUT_DIR = Path(os.environ.get("GRACE_CAP_OUT", "capacity-step"))
PROCESSES = max(1, env_int("GRACE_CAP_PROCESSES", 1))
OP_TIMEOUT_S = env_float("GRACE_CAP_OP_TIMEOUT_S", 2.0)
LATE_TOLERANCE_S = env_float("GRACE_CAP_LATE_TOLERANCE_S", 0.05)
TABLE = os.environ.get("GRACE_CAP_TABLE", "gracectl_capacity")
READ_ROWS = max(1, env_int("GRACE_CAP_READ_ROWS", 10_000))
TARGET = os.environ.get("GRACE_CAP_TARGET", "")
#: A backlog still unsent this long after the schedule's end is counted as not sent.
DRAIN_S = OP_TIMEOUT_S + 1.0
LOOP_PROBE_S = 0.05
REPORT_POLL_S = 0.2


class OpTimeout(Exception):
    """Raised by gevent.Timeout when one operation exceeds GRACE_CAP_OP_TIMEOUT_S."""


class OpFailed(Exception):
    """Reported to Locust for failed operations."""


def _describe(exc: BaseException) -> str:
    return describe_error(exc, 200)


class _Process:
    """What the users of one process share: the tally, the loop probe, the report."""

    def __init__(self) -> None:
        self.tally = StepTally(DURATION_S, LATE_TOLERANCE_S)
        self.users_started = 0
        self.users_done = 0
        self.loop_blocked_ms: float | None = None
        self.probe: gevent.Greenlet[Any, Any] | None = None
        self.reported = False

    def user_started(self) -> int:
        if self.probe is None:
            self.probe = gevent.spawn(self._probe_loop)
        self.users_started += 1
        return self.users_started - 1

    def _probe_loop(self) -> None:
        """How late a 50 ms sleep wakes up: the hub's stall (CPU or a blocking call)."""
        while True:
            before = time.monotonic()
            gevent.sleep(LOOP_PROBE_S)
            stall_ms = (time.monotonic() - before - LOOP_PROBE_S) * 1000.0
            now = time.time()
            if START_AT <= now <= START_AT + DURATION_S + DRAIN_S:
                self.loop_blocked_ms = max(self.loop_blocked_ms or 0.0, stall_ms)

    def user_done(self) -> None:
        self.users_done += 1
        if self.users_done >= self.users_started:
            self.write_report()

    def write_report(self) -> None:
        if self.reported or not self.users_started:
            return
        self.reported = True
        if self.probe is not None:
            self.probe.kill(block=False)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path = write_report(self.tally.report(os.getpid(), self.loop_blocked_ms), OUT_DIR)
        log.info("%d users done: %s", self.users_done, path)


_proc = _Process()


def _quit_when_reported(runner: LocalRunner | MasterRunner) -> None:
    """The master (or the single process) ends the run once every load process reported,
    or at once if workers it did not fork joined (another Locust's, on the same port)."""
    while len(list(OUT_DIR.glob(REPORT_GLOB))) < PROCESSES:
        if isinstance(runner, MasterRunner) and len(runner.clients) > PROCESSES:
            log.error("%d workers joined, %d expected: foreign workers on this master's "
                      "port; quitting", len(runner.clients), PROCESSES)  # fmt: skip
            break
        gevent.sleep(REPORT_POLL_S)
    else:
        log.info("all %d process reports written: quitting", PROCESSES)
    runner.quit()


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, LocalRunner | MasterRunner):
        gevent.spawn(_quit_when_reported, runner)


@events.quit.add_listener
def _on_quit(**_: Any) -> None:
    _proc.write_report()  # stopped early: what was counted so far


class _ScheduledUser(User):
    """One connection, one open-model schedule, counted into the process's tally."""

    abstract = True
    wait_time = constant(0)
    request_type: ClassVar[str] = "op"

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.index = _proc.user_started()
        self.name = f"{os.getpid()}.{self.index}"
        self.scheduled = False
        self.connected = False

    # what a component provides
    def connect(self) -> None:
        raise NotImplementedError

    def disconnect(self) -> None:
        raise NotImplementedError

    def operation(self, seq: int) -> str:
        """One request; returns its name for Locust's stats; raises on failure."""
        raise NotImplementedError

    def _drop(self) -> None:
        self.connected = False
        try:
            self.disconnect()
        except Exception as exc:  # a broken connection may fail to close; it is gone anyway
            log.debug("%s: close failed: %s", self.name, exc)

    @task
    def run_schedule(self) -> None:
        if self.scheduled:
            raise StopUser()  # Locust reruns a task that raised: never replay a schedule
        self.scheduled = True
        try:
            self._schedule()
        finally:
            self._drop()
            _proc.user_done()
        raise StopUser()

    def _schedule(self) -> None:
        try:  # before the schedule, so connection set-up is not counted as latency
            with gevent.Timeout(OP_TIMEOUT_S, OpTimeout):
                self.connect()
            self.connected = True
        except Exception as exc:
            log.warning("%s: cannot connect before the schedule: %s", self.name, _describe(exc))
            self._drop()
        interval = USERS / RATE
        planned = max(1, math.ceil(DURATION_S / interval - 1e-9))
        t0 = max(START_AT, time.time()) + random.uniform(0.0, interval)
        end = t0 + DURATION_S
        tally = _proc.tally
        tally.begin(self.name, t0, planned, interval)
        previous_end = 0.0
        for seq in range(planned):
            intended = t0 + seq * interval
            busy = previous_end > intended
            now = time.time()
            if intended > now:
                gevent.sleep(intended - now)
            elif now > end + DRAIN_S:
                tally.unsent(busy)
                if seq % 100 == 0:
                    gevent.sleep(0)  # a long unsent backlog must not hog the hub
                continue
            start = time.time()
            error: str | None = None
            name = self.request_type
            try:
                with gevent.Timeout(OP_TIMEOUT_S, OpTimeout):
                    if not self.connected:
                        self.connect()
                        self.connected = True
                    name = self.operation(seq)
            except OpTimeout:
                error = f"timeout {OP_TIMEOUT_S:g} s"
            except Exception as exc:
                error = _describe(exc)
            finish = time.time()
            if error is not None:
                self._drop()
            previous_end = finish
            tally.operation(self.name, intended, start, finish, error is None, busy, error)
            self.environment.events.request.fire(
                request_type=self.request_type,
                name=name,
                response_time=(finish - intended) * 1000.0,
                response_length=0,
                exception=None if error is None else OpFailed(error),
                context={},
            )


class PostgresWriteUser(_ScheduledUser):
    request_type = "pg"
    _insert = sql.SQL("INSERT INTO {} (payload) VALUES (%s)").format(sql.Identifier(TABLE))

    def connect(self) -> None:
        self.conn: psycopg.Connection[Any] = psycopg.connect(
            os.environ["GRACE_PG_RW_DSN"], autocommit=True, connect_timeout=2,
            application_name="gracectl-capacity",
        )  # fmt: skip

    def disconnect(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()

    def operation(self, seq: int) -> str:
        self.conn.execute(self._insert, (f"{self.name}.{seq}",))
        return "insert"


class PostgresReadUser(PostgresWriteUser):
    _select = sql.SQL("SELECT payload FROM {} WHERE id = %s").format(sql.Identifier(TABLE))

    def connect(self) -> None:
        self.conn = psycopg.connect(
            os.environ["GRACE_PG_RO_DSN"], autocommit=True, connect_timeout=2,
            application_name="gracectl-capacity",
        )  # fmt: skip

    def operation(self, seq: int) -> str:
        wanted = random.randint(1, READ_ROWS)
        row = self.conn.execute(self._select, (wanted,)).fetchone()
        if row is None:
            raise LookupError(f"row {wanted} missing from {TABLE}")
        return "select"


class RedisUser(_ScheduledUser):
    request_type = "redis"

    def connect(self) -> None:
        sentinels = parse_endpoints(os.environ["GRACE_REDIS_SENTINELS"])
        self.client: redis.Redis = sentinel_client(sentinels, OP_TIMEOUT_S).master_for(
            os.environ["GRACE_REDIS_MASTER_NAME"],
            password=os.environ.get("GRACE_REDIS_PASSWORD") or None,
            protocol=2, **socket_timeouts(OP_TIMEOUT_S),
        )  # fmt: skip
        self.client.ping()
        self.key = f"gracectl:capacity:{self.name}"

    def disconnect(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def operation(self, seq: int) -> str:
        if seq % 2 == 0:
            self.client.set(self.key, seq)
            return "set"
        self.client.get(self.key)
        return "get"


class HttpUser(_ScheduledUser):
    request_type = "http"

    def connect(self) -> None:
        url = URL(TARGET)
        self.path = url.request_uri
        self.http = HTTPClient.from_url(
            url, concurrency=1, connection_timeout=OP_TIMEOUT_S, network_timeout=OP_TIMEOUT_S
        )

    def disconnect(self) -> None:
        http = getattr(self, "http", None)
        if http is not None:
            http.close()

    def operation(self, seq: int) -> str:
        response = self.http.get(self.path)
        try:
            response.read()
        finally:
            response.release()
        if response.status_code >= 400:
            raise OpFailed(f"HTTP {response.status_code}")
        return "get"
