"""Shared fixtures: an isolated GRACECTL_HOME per test and a runner for the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

GRACECTL = [sys.executable, "-m", "gracectl"]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@dataclass
class Sandbox:
    """A state directory the service user can reach (pytest's tmp_path is 0700 under root)."""

    home: Path
    base_port: int
    cwd: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GRACECTL_") or k == "GRACECTL_TIMEOUT_MULTIPLIER"}
        env.update(
            GRACECTL_HOME=str(self.home), GRACECTL_BASE_PORT=str(self.base_port), COLUMNS="200"
        )
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 300, **extra_env: str) -> CliResult:
        done = subprocess.run(
            [*GRACECTL, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(**extra_env),
            cwd=self.cwd,
            check=False,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)


# Parallel pytest runs on one machine pick apart ranges (GRACECTL_TEST_PORT_BASE overrides).
_next_port = [int(os.environ.get("GRACECTL_TEST_PORT_BASE", 21000 + (os.getpid() % 50) * 100))]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    root = Path(tempfile.mkdtemp(prefix="gracectl-test-", dir="/tmp"))
    root.chmod(0o755)
    cwd = root / "cwd"
    cwd.mkdir()
    base_port = _next_port[0]
    _next_port[0] += 40
    box = Sandbox(home=root / "home", base_port=base_port, cwd=cwd)
    try:
        yield box
    finally:
        if (box.home / "state.json").exists():
            box.run("down", "--purge", timeout=180)
        shutil.rmtree(root, ignore_errors=True)
