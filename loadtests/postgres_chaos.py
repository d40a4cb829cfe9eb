"""Open-model PostgreSQL workload for chaos scenarios: writers INSERT unique ids through the
read-write port, readers SELECT a recently acknowledged id through the read-only port.

Every user follows a schedule (operation k is intended at t0 + k / rate_per_user) and measures
latency from that intended time, so a stall shows up as latency instead of silently lowering
the offered load (coordinated omission). A user that falls behind never skips: it sends its
backlog as fast as it can and marks operations that started more than a tolerance after their
intended time as `late`. Every operation is streamed to a JSON-lines history
(gracectl.history) as ok | fail | info, and reported to Locust through `events.request`.

Configured only through the environment (names in gracectl.workload, which launches this file
as `locust -f loadtests/postgres_chaos.py --headless ...`):

  GRACE_PG_RW_DSN / GRACE_PG_RO_DSN   where writers / readers connect
  GRACE_WL_HISTORY                    history path; a Locust worker process (--processes)
                                      writes <stem>.w<index><suffix> next to it
  GRACE_WL_TABLE                      default gracectl_writes
  GRACE_WL_RUN                        run number (unique per run, from a database sequence)
  GRACE_WL_WRITERS / GRACE_WL_READERS user counts (fixed_count of each class)
  GRACE_WL_WRITE_RATE / GRACE_WL_READ_RATE   total ops/s of each class
  GRACE_WL_DURATION_S, GRACE_WL_OP_TIMEOUT_S, GRACE_WL_LATE_TOLERANCE_S, GRACE_WL_MAX_OPS

gevent: Locust monkey-patches on `import locust`. psycopg picks its wait function when it is
first imported: imported after patching it uses a cooperative poll(); imported before, it uses
a C poll() that blocks the whole hub (measured: a 1 s query froze every other greenlet for
1 s). The guard below forces the cooperative one if patching came too late, and the per-op
timeout is a gevent.Timeout, which also fires when the server is frozen (SIGSTOP: no reset).
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import gevent
import psycopg
from gevent import GreenletExit
from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import LocalRunner, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC
from psycopg import sql

from gracectl.history import HistoryWriter, Operation, OpKind, Outcome
from gracectl.load_env import describe_error, env_float, env_int, use_cooperative_psycopg_wait
from gracectl.workload import ID_RUN_SHIFT, MAX_RUN

log = logging.getLogger("gracectl.loadtests.postgres_chaos")

use_cooperative_psycopg_wait(log)


TABLE = os.environ.get("GRACE_WL_TABLE", "gracectl_writes")
# Run numbers come from a sequence in the database (gracectl.workload); the fallback for a
# bare `locust -f` run is the clock in minutes, good enough for a manual try.
RUN = env_int("GRACE_WL_RUN", int(time.time() // 60) % (MAX_RUN + 1))
WRITERS = env_int("GRACE_WL_WRITERS", 1)
READERS = env_int("GRACE_WL_READERS", 1)
WRITE_RATE = env_float("GRACE_WL_WRITE_RATE", 10.0)
READ_RATE = env_float("GRACE_WL_READ_RATE", 10.0)
DURATION_S = env_float("GRACE_WL_DURATION_S", 10.0)
OP_TIMEOUT_S = env_float("GRACE_WL_OP_TIMEOUT_S", 2.0)
LATE_TOLERANCE_S = env_float("GRACE_WL_LATE_TOLERANCE_S", 0.05)
MAX_OPS = env_int("GRACE_WL_MAX_OPS", 0)  # per user; 0: what the rate and duration give
# After a failure the next connection attempt waits, doubling up to the cap.
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.02, 0.5
# A backlog still unsent this long after the run's end is recorded as not sent (fail).
DRAIN_S = OP_TIMEOUT_S + 2 * BACKOFF_MAX_S

# id layout (bigint): run (22 bits) | process (8) | user (8) | sequence (24). Unique across
# runs (run from a sequence), processes, users and operations; 16.7 M ops per user and run.
_PROC_SHIFT, _USER_SHIFT, _RUN_SHIFT = 32, 24, ID_RUN_SHIFT
_SEQ_LIMIT = 1 << _USER_SHIFT

# SQLSTATE classes that can arrive after the INSERT committed locally: connection exceptions,
# operator intervention (shutdown, cancel during a synchronous-replication wait), system errors.
_INDETERMINATE_CLASSES = ("08", "57", "58", "XX")


class OpTimeout(Exception):
    """Raised by gevent.Timeout when an operation exceeds GRACE_WL_OP_TIMEOUT_S."""


class OpFailed(Exception):
    """Reported to Locust for `fail` operations."""


class OpIndeterminate(Exception):
    """Reported to Locust for `info` operations (may or may not have taken effect)."""


class _Clock:
    """Unix seconds that never jump: wall time at start plus monotonic elapsed."""

    def __init__(self) -> None:
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0)


class _Process:
    """What the users of one Locust process share: history file, acked ids, completion."""

    def __init__(self) -> None:
        self.clock = _Clock()
        self.history: HistoryWriter | None = None
        self.proc_index = 0
        self.recent_acked: collections.deque[int] = collections.deque(maxlen=256)
        self.finished_users = 0
        self.user_index = {"write": itertools.count(), "read": itertools.count()}

    def open(self, environment: Environment) -> None:
        if self.history is not None:
            return
        path = Path(os.environ.get("GRACE_WL_HISTORY", "history.jsonl"))
        if isinstance(environment.runner, WorkerRunner):
            # One file per worker process: no two processes ever append to the same file.
            self.proc_index = max(0, environment.runner.worker_index)
            path = path.with_name(f"{path.stem}.w{self.proc_index}{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.history = HistoryWriter(path)
        log.info("history -> %s (run %d)", path, RUN)

    def record(self, op: Operation) -> None:
        # File writes do not yield to the hub, so each line is written whole by one greenlet;
        # HistoryWriter is line-buffered, so each line reaches the file as it is appended.
        if self.history is not None:
            self.history.append(op)

    def close(self) -> None:
        if self.history is not None:
            self.history.close()
            self.history = None


_proc = _Process()


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    _proc.open(environment)


@events.quit.add_listener
def _on_quit(**_: Any) -> None:
    _proc.close()


def _classify_db_error(exc: psycopg.Error, sent: bool) -> Outcome:
    if not sent:
        return "fail"
    state = exc.sqlstate
    if state is None or state[:2] in _INDETERMINATE_CLASSES:
        return "info"
    # The server answered with an error (read-only transaction, constraint...): in autocommit
    # the statement's transaction rolled back.
    return "fail"


def _describe(exc: BaseException) -> str:
    return describe_error(exc, 300)


class _ScheduledUser(User):
    """One connection, one open-model schedule, one history writer."""

    abstract = True
    wait_time = constant(0)
    kind: ClassVar[OpKind]
    dsn_env: ClassVar[str]
    total_users: ClassVar[int]
    total_rate: ClassVar[float]

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        _proc.open(environment)
        self.index = next(_proc.user_index[self.kind])
        prefix = "writer" if self.kind == "write" else "reader"
        self.worker = (
            f"{prefix}-{self.index}"
            if _proc.proc_index == 0
            else f"{prefix}-{_proc.proc_index}.{self.index}"
        )
        self.dsn = os.environ[self.dsn_env]
        self.conn: psycopg.Connection[Any] | None = None
        self.backoff_s = 0.0
        self.seq = 0
        self.scheduled = False

    # -- connection ------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[Any]:
        if self.conn is not None and not self.conn.closed:
            return self.conn
        self.conn = psycopg.connect(
            self.dsn,
            autocommit=True,
            # libpq's own bound, should the gevent timeout ever not fire (minimum 2 s).
            connect_timeout=max(2, math.ceil(OP_TIMEOUT_S)),
            application_name=f"gracectl-{self.worker}",
        )
        return self.conn

    def _drop_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                # Non-blocking: psycopg keeps the socket in non-blocking mode.
                conn.close()
            except Exception as exc:  # a broken connection may fail to close; it is gone anyway
                log.debug("%s: close failed: %s", self.worker, exc)

    def _back_off(self) -> None:
        """Before reconnecting after a failure; the op starts (and is judged late) after it."""
        if self.conn is None and self.backoff_s:
            gevent.sleep(self.backoff_s)

    def _succeeded(self) -> None:
        self.backoff_s = 0.0

    def _failed(self) -> None:
        self._drop_connection()
        self.backoff_s = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, self.backoff_s * 2))

    # -- schedule --------------------------------------------------------------------------
    @task
    def run_schedule(self) -> None:
        rate = self.total_rate / max(1, self.total_users)
        if rate <= 0 or self.scheduled:
            self._finish()  # Locust reruns a task that raised: never replay a schedule
        self.scheduled = True
        interval = 1.0 / rate
        # Spread users over one interval so they do not all fire at the same instant.
        t0 = _proc.clock.now() + interval * (self.index / max(1, self.total_users))
        run_end = t0 + DURATION_S
        max_ops = MAX_OPS or math.ceil(DURATION_S * rate)
        for k in range(max_ops):
            intended = t0 + k * interval
            if intended >= run_end:
                break
            delay = intended - _proc.clock.now()
            if delay > 0:
                gevent.sleep(delay)
            elif _proc.clock.now() > run_end + DRAIN_S:
                self._record_unsent(intended)
                continue
            self._one_op(intended)
        self._finish()

    def _finish(self) -> None:
        self._drop_connection()
        _proc.finished_users += 1
        runner = self.environment.runner
        if isinstance(runner, LocalRunner) and _proc.finished_users >= WRITERS + READERS:
            # Everything is sent: end now instead of idling until --run-time.
            # Locust rewrites its CSV stats every CSV_STATS_INTERVAL_SEC and not at exit:
            # quit after one more write so the CSV holds the last operations too.
            log.info("all %d users finished their schedules", _proc.finished_users)
            gevent.spawn_later(CSV_STATS_INTERVAL_SEC + 0.3, runner.quit)
        raise StopUser()

    def _record_unsent(self, intended: float) -> None:
        now = _proc.clock.now()
        op = Operation(
            worker=self.worker,
            op=self.kind,
            intended=intended,
            start=now,
            end=now,
            outcome="fail",
            error="not sent: backlog left when the run ended",
            late=True,
        )
        _proc.record(op)
        self._report(op)
        gevent.sleep(0)  # a long unsent backlog must not hog the hub

    def _one_op(self, intended: float) -> None:
        raise NotImplementedError

    def _report(self, op: Operation) -> None:
        exception: Exception | None = None
        if op.outcome == "fail":
            exception = OpFailed(op.error or "failed")
        elif op.outcome == "info":
            exception = OpIndeterminate(op.error or "indeterminate")
        self.environment.events.request.fire(
            request_type="pg",
            name=self.kind,
            response_time=(op.end - op.intended) * 1000.0,
            response_length=0,
            exception=exception,
            context={"late": op.late, "outcome": op.outcome},
        )

    def _complete(
        self,
        intended: float,
        start: float,
        outcome: Outcome,
        value: int | None,
        error: str | None,
    ) -> None:
        op = Operation(
            worker=self.worker,
            op=self.kind,
            value=value,
            intended=intended,
            start=start,
            end=_proc.clock.now(),
            outcome=outcome,
            error=error,
            late=start - intended > LATE_TOLERANCE_S,
        )
        _proc.record(op)
        self._report(op)


class WriterUser(_ScheduledUser):
    kind = "write"
    dsn_env = "GRACE_PG_RW_DSN"
    fixed_count = WRITERS
    total_users = WRITERS
    total_rate = WRITE_RATE

    _insert = sql.SQL("INSERT INTO {} (id, worker) VALUES (%s, %s)").format(sql.Identifier(TABLE))

    def _next_id(self) -> int:
        if self.seq >= _SEQ_LIMIT:
            raise StopUser()  # cannot happen within MAX_OPS bounds; never reuse an id
        value = (
            (RUN << _RUN_SHIFT)
            | (_proc.proc_index << _PROC_SHIFT)
            | (self.index << _USER_SHIFT)
            | self.seq
        )
        self.seq += 1
        return value

    def _one_op(self, intended: float) -> None:
        value = self._next_id()
        sent = False
        self._back_off()
        start = _proc.clock.now()
        try:
            with gevent.Timeout(OP_TIMEOUT_S, OpTimeout):
                conn = self._connection()
                sent = True
                conn.execute(self._insert, (value, self.worker))
        except OpTimeout:
            self._failed()
            where = "after sending" if sent else "connecting"
            outcome: Outcome = "info" if sent else "fail"
            self._complete(intended, start, outcome, value, f"timeout {OP_TIMEOUT_S:g} s {where}")
            return
        except psycopg.Error as exc:
            self._failed()
            self._complete(intended, start, _classify_db_error(exc, sent), value, _describe(exc))
            return
        except Exception as exc:  # unexpected: keep the schedule and the history going
            log.exception("%s: unexpected error", self.worker)
            self._failed()
            self._complete(intended, start, "info" if sent else "fail", value, _describe(exc))
            return
        except GreenletExit:
            # Locust is stopping the run: an INSERT in flight may or may not commit.
            if sent:
                self._complete(intended, start, "info", value, "interrupted: workload stopped")
            raise
        self._succeeded()
        _proc.recent_acked.append(value)
        self._complete(intended, start, "ok", value, None)


class ReaderUser(_ScheduledUser):
    kind = "read"
    dsn_env = "GRACE_PG_RO_DSN"
    fixed_count = READERS
    total_users = READERS
    total_rate = READ_RATE

    _by_id = sql.SQL("SELECT id FROM {} WHERE id = %s").format(sql.Identifier(TABLE))
    _latest = sql.SQL("SELECT max(id) FROM {}").format(sql.Identifier(TABLE))

    def _one_op(self, intended: float) -> None:
        # A read has no effect: whatever goes wrong, it is a `fail`, never indeterminate.
        wanted = _proc.recent_acked[-1] if _proc.recent_acked else None
        self._back_off()
        start = _proc.clock.now()
        try:
            with gevent.Timeout(OP_TIMEOUT_S, OpTimeout):
                conn = self._connection()
                if wanted is None:
                    row = conn.execute(self._latest).fetchone()
                else:
                    row = conn.execute(self._by_id, (wanted,)).fetchone()
        except OpTimeout:
            self._failed()
            self._complete(intended, start, "fail", wanted, f"timeout {OP_TIMEOUT_S:g} s")
            return
        except Exception as exc:  # psycopg.Error, or anything unexpected
            self._failed()
            self._complete(intended, start, "fail", wanted, _describe(exc))
            return
        self._succeeded()
        found = row[0] if row else None
        # value: the id read; None (with the id asked for in `error`) when the replica does
        # not show that acknowledged write yet.
        error = None if found is not None or wanted is None else f"not visible yet: id {wanted}"
        self._complete(intended, start, "ok", found, error)
