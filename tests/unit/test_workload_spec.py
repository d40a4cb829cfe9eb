"""The workload's spec, its Locust command line, and the gevent-safety of the locustfile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gracectl.errors import GracectlError
from gracectl.workload import LOCUSTFILE, Workload, WorkloadSpec

pytestmark = pytest.mark.unit

CONNECTION = {
    "GRACE_PG_RW_DSN": "postgresql://u:p@127.0.0.1:1/db",
    "GRACE_PG_RO_DSN": "postgresql://u:p@127.0.0.1:2/db",
}


def test_spec_rejects_empty_or_rateless_load() -> None:
    with pytest.raises(ValidationError):
        WorkloadSpec(writers=0, readers=0)
    with pytest.raises(ValidationError):
        WorkloadSpec(writers=1, write_rate=0)
    with pytest.raises(ValidationError):
        WorkloadSpec(table="bad; DROP TABLE x")
    assert WorkloadSpec(writers=0, readers=1, write_rate=0).users == 1


def test_command_runs_only_classes_with_users(tmp_path: Path) -> None:
    spec = WorkloadSpec(writers=3, readers=0, write_rate=30, read_rate=0, duration_s=5)
    workload = Workload(spec, CONNECTION, tmp_path)
    cmd = workload.command()
    assert cmd[-1] == "WriterUser" and "ReaderUser" not in cmd
    assert cmd[cmd.index("-u") + 1] == "3"
    assert cmd[cmd.index("--run-time") + 1] == f"{spec.locust_run_time_s}s"
    assert "--headless" in cmd and "--only-summary" in cmd
    workload.run_number = 7
    env = workload.environment()
    assert env["GRACE_WL_RUN"] == "7" and env["GRACE_WL_WRITERS"] == "3"
    assert env["GRACE_WL_HISTORY"] == str(tmp_path / "history" / "history.jsonl")
    assert "GRACE_PG_ADMIN_DSN" not in env


def test_missing_dsn_is_a_gracectl_error(tmp_path: Path) -> None:
    with pytest.raises(GracectlError, match="GRACE_PG_RO_DSN"):
        Workload(WorkloadSpec(), {"GRACE_PG_RW_DSN": "x"}, tmp_path)


@pytest.mark.parametrize("psycopg_first", [False, True])
def test_locustfile_never_uses_the_hub_blocking_wait(psycopg_first: bool) -> None:
    """psycopg chooses its wait function at import: its C poll() blocks the gevent hub (a 1 s
    query froze every other greenlet for 1 s). Whatever the import order, the locustfile must
    end up with a cooperative one."""
    script = (
        ("import psycopg\n" if psycopg_first else "")
        + "import locust, runpy, psycopg.waiting as w\n"
        + f"runpy.run_path({str(LOCUSTFILE)!r})\n"
        + "print(w.wait.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in {"wait_poll", "wait_select", "wait_selector"}, done.stdout
