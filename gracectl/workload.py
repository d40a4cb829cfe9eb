"""The load of a chaos run and its final read.

`Workload` runs Locust headless as a subprocess on `loadtests/postgres_chaos.py` (open-model
writers and readers that stream a gracectl.history file), after creating the table it writes
to. `final_read` collects every id from the leader and from each caught-up replica, each
reached directly on its own port, for the checkers to compare with the history.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gracectl.errors import GracectlError
from gracectl.load_process import LoadProcess
from gracectl.waiting import timeout_multiplier

log = logging.getLogger(__name__)

DEFAULT_TABLE = "gracectl_writes"
#: The locustfile ships in the repository next to the package (an editable install).
LOCUSTFILE = Path(__file__).resolve().parents[1] / "loadtests" / "postgres_chaos.py"
HISTORY_DIR_NAME = "history"  # a directory of JSON-lines files, one per Locust process
HISTORY_NAME = "history.jsonl"
LOCUST_OUTPUT_NAME = "locust.out"
CSV_PREFIX_NAME = "locust"
WRITER_CLASS, READER_CLASS = "WriterUser", "ReaderUser"

# Environment the locustfile reads (see loadtests/postgres_chaos.py).
ENV_RW_DSN, ENV_RO_DSN = "GRACE_PG_RW_DSN", "GRACE_PG_RO_DSN"
ENV_ADMIN_DSN = "GRACE_PG_ADMIN_DSN"
ENV_HISTORY, ENV_TABLE, ENV_RUN = "GRACE_WL_HISTORY", "GRACE_WL_TABLE", "GRACE_WL_RUN"

# Locust needs a moment to import and spawn; a backlog drains for up to op_timeout + 1 s.
_STARTUP_SLACK_S = 15.0
_CONNECT_TIMEOUT_S = 5


# Ids are run (22 bits) | process (8) | user (8) | sequence (24): the locustfile builds them.
ID_RUN_SHIFT = 40
MAX_RUN = (1 << 22) - 1


def _scalar(row: tuple[Any, ...] | None) -> int:
    if row is None or row[0] is None:
        raise WorkloadError("workload: empty answer from PostgreSQL")
    return int(row[0])


class WorkloadError(GracectlError):
    """The workload could not be prepared, started or read back."""


class WorkloadSpec(BaseModel):
    """How much load, for how long. Rates are totals per class, spread over its users."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    writers: int = Field(2, ge=0, le=255)
    readers: int = Field(1, ge=0, le=255)
    write_rate: float = Field(100.0, ge=0)  # ops/s, all writers together
    read_rate: float = Field(50.0, ge=0)  # ops/s, all readers together
    duration_s: float = Field(10.0, gt=0, le=86_400)
    op_timeout_s: float = Field(2.0, gt=0, le=60)
    late_tolerance_s: float = Field(0.05, ge=0)
    table: str = Field(DEFAULT_TABLE, pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @model_validator(mode="after")
    def _some_load(self) -> WorkloadSpec:
        if self.writers + self.readers == 0:
            raise ValueError("a workload needs at least one writer or reader")
        if self.writers and not self.write_rate:
            raise ValueError("writers need a write_rate > 0")
        if self.readers and not self.read_rate:
            raise ValueError("readers need a read_rate > 0")
        return self

    @property
    def users(self) -> int:
        return self.writers + self.readers

    @property
    def locust_run_time_s(self) -> int:
        """Locust's own --run-time: a safety bound; the users end their schedules before it."""
        return math.ceil(self.duration_s + 2 * self.op_timeout_s + 10)


@dataclass(frozen=True)
class WorkloadResult:
    run_number: int
    history_dir: Path
    history_paths: tuple[Path, ...]
    stats_path: Path  # Locust's <prefix>_stats.csv (response times from intended, in ms)
    output_path: Path  # Locust's stdout and stderr
    exit_code: int | None  # None: the process had to be killed
    stopped: bool  # stopped on demand (or by the wait timeout) before it ended by itself
    killed: bool  # did not exit on SIGTERM within the grace period: SIGKILLed

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Workload(LoadProcess[WorkloadResult]):
    """Locust as a subprocess: `with Workload(spec, env, run_dir) as wl: ...; wl.wait()`.

    `connection` holds at least GRACE_PG_RW_DSN and GRACE_PG_RO_DSN (gracectl.stack.
    connection_env or `gracectl env --json`). Leaving the `with` block stops Locust if it is
    still running, so no process outlives the caller.
    """

    label = "locust"
    error_type = WorkloadError

    def __init__(
        self,
        spec: WorkloadSpec,
        connection: Mapping[str, str],
        run_dir: Path,
        locustfile: Path = LOCUSTFILE,
        python: str = sys.executable,
    ) -> None:
        missing = [k for k in (ENV_RW_DSN, ENV_RO_DSN) if not connection.get(k)]
        if missing:
            raise WorkloadError(
                f"workload: missing {', '.join(missing)}", hint="pass `gracectl env --json`"
            )
        if not locustfile.is_file():
            raise WorkloadError(
                f"workload: locustfile {locustfile} not found",
                hint="run from a gracectl checkout (pip install -e)",
            )
        super().__init__(run_dir)
        self.spec = spec
        self.rw_dsn = connection[ENV_RW_DSN]
        self.ro_dsn = connection[ENV_RO_DSN]
        self.locustfile = locustfile
        self.python = python
        self.run_number: int | None = None

    # -- paths -----------------------------------------------------------------------------
    @property
    def history_dir(self) -> Path:
        return self.run_dir / HISTORY_DIR_NAME

    @property
    def history_path(self) -> Path:
        """The file of a single-process Locust; worker processes add .w<index> files."""
        return self.history_dir / HISTORY_NAME

    @property
    def stats_path(self) -> Path:
        return self.run_dir / f"{CSV_PREFIX_NAME}_stats.csv"

    @property
    def output_path(self) -> Path:
        return self.run_dir / LOCUST_OUTPUT_NAME

    def history_paths(self) -> tuple[Path, ...]:
        """The main file, plus one per worker process if Locust ran with --processes."""
        return tuple(sorted(p for p in self.history_dir.glob("*.jsonl") if p.is_file()))

    # -- lifecycle -------------------------------------------------------------------------
    def prepare(self) -> int:
        """Create the table and its run-number sequence (idempotent); allocate a run number.

        The run number is the top of every id the run writes; it is kept above any run
        already in the table (a manual `locust -f` run picks its own), so ids never repeat.
        """
        name = self.spec.table
        table = sql.Identifier(name)
        runs = sql.Identifier(f"{name}_runs")
        create_table = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} "
            "(id bigint PRIMARY KEY, worker text, at timestamptz DEFAULT now())"
        ).format(table)
        create_seq = sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} MAXVALUE {}").format(
            runs, sql.Literal(MAX_RUN)
        )
        highest_run = sql.SQL("SELECT coalesce(max(id) >> {}, 0) FROM {}").format(
            sql.Literal(ID_RUN_SHIFT), table
        )
        try:
            with (
                psycopg.connect(
                    self.rw_dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
                ) as conn,
                conn.transaction(),
            ):
                # Serialises concurrent preparers: CREATE ... IF NOT EXISTS races in the
                # catalog, and two of them must not both bump the sequence to one value.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
                conn.execute(create_table)
                conn.execute(create_seq)
                run = _scalar(
                    conn.execute(
                        sql.SQL("SELECT nextval({})").format(sql.Literal(f"{name}_runs"))
                    ).fetchone()
                )
                highest = _scalar(conn.execute(highest_run).fetchone())
                if run <= highest:
                    run = highest + 1
                    conn.execute(
                        sql.SQL("SELECT setval({}, %s)").format(sql.Literal(f"{name}_runs")),
                        (run,),
                    )
        except psycopg.Error as exc:
            raise WorkloadError(
                f"workload: cannot prepare table {name}: {exc}",
                hint="is the stack up? `gracectl status`",
            ) from exc
        if run > MAX_RUN:
            raise WorkloadError(
                f"workload: table {name} has used every run number",
                hint=f"drop or truncate {name} and its sequence {name}_runs",
            )
        self.run_number = run
        log.info("table %s ready, run number %d", name, run)
        return run

    def command(self) -> list[str]:
        spec = self.spec
        classes = [WRITER_CLASS] * bool(spec.writers) + [READER_CLASS] * bool(spec.readers)
        return [
            self.python, "-m", "locust",
            "-f", str(self.locustfile),
            "--headless", "--only-summary",
            "-u", str(spec.users), "-r", str(spec.users),
            "--run-time", f"{spec.locust_run_time_s}s",
            "--csv", str(self.run_dir / CSV_PREFIX_NAME),
            # fail/info operations are expected under faults, not an error of the tool.
            "--exit-code-on-error", "0",
            *classes,
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        if self.run_number is None:
            raise WorkloadError("workload: prepare() before start()")
        spec = self.spec
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRACE_", "LOCUST_"))}
        env.update({
            ENV_RW_DSN: self.rw_dsn,
            ENV_RO_DSN: self.ro_dsn,
            ENV_HISTORY: str(self.history_path),
            ENV_TABLE: spec.table,
            ENV_RUN: str(self.run_number),
            "GRACE_WL_WRITERS": str(spec.writers),
            "GRACE_WL_READERS": str(spec.readers),
            "GRACE_WL_WRITE_RATE": repr(spec.write_rate),
            "GRACE_WL_READ_RATE": repr(spec.read_rate),
            "GRACE_WL_DURATION_S": repr(spec.duration_s),
            "GRACE_WL_OP_TIMEOUT_S": repr(spec.op_timeout_s),
            "GRACE_WL_LATE_TOLERANCE_S": repr(spec.late_tolerance_s),
            "PYTHONUNBUFFERED": "1",
        })  # fmt: skip
        return env

    def _before_start(self) -> None:
        self.history_dir.mkdir(parents=True, exist_ok=True)
        if self.run_number is None:
            self.prepare()

    def _started(self) -> str:
        spec = self.spec
        return (
            f"{spec.writers} writers at {spec.write_rate:g}/s, {spec.readers} readers at "
            f"{spec.read_rate:g}/s for {spec.duration_s:g} s -> {self.run_dir}"
        )

    def default_timeout_s(self) -> float:
        spec = self.spec
        return (spec.duration_s + 2 * spec.op_timeout_s + _STARTUP_SLACK_S) * timeout_multiplier()

    def _make_result(self, exit_code: int | None, stopped: bool, killed: bool) -> WorkloadResult:
        assert self.run_number is not None
        return WorkloadResult(
            run_number=self.run_number,
            history_dir=self.history_dir,
            history_paths=self.history_paths(),
            stats_path=self.stats_path,
            output_path=self.output_path,
            exit_code=exit_code,
            stopped=stopped,
            killed=killed,
        )


def start_workload(spec: WorkloadSpec, run_dir: Path, connection: Mapping[str, str]) -> Workload:
    """Prepare the table and start Locust; the caller must `wait()` and/or `stop()` it."""
    workload = Workload(spec, connection, run_dir)
    workload.start()
    return workload
