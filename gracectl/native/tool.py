"""Running a native load tool to its end: the binary found or a clear EnvironmentProblem, a hard
timeout (redis-benchmark spins forever on a refused connection), passwords kept out of what
is recorded or raised, and the checks every tool's arguments share."""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping

from gracectl.errors import ConfigError, EnvironmentProblem
from gracectl.native.output import NativeToolError, tail

log = logging.getLogger(__name__)

SETUP_HINT = "run scripts/setup.sh to install the stack's packages"
STACK_HINT = "is the stack up? `gracectl status`"
CONNECT_TIMEOUT_S = 10
#: A tool gets its planned run time plus this before it is killed.
SLACK_S = 60.0
#: A Kafka topic or Redis stream name.
BUS_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def find_binary(path: str, tool: str) -> str:
    found = path if "/" in path and os.access(path, os.X_OK) else shutil.which(path)
    if not found:
        raise EnvironmentProblem(f"{tool}: binary {path!r} not found", hint=SETUP_HINT)
    return found


def run_tool(
    tool: str,
    argv: list[str],
    timeout_s: float,
    *,
    env: Mapping[str, str] | None = None,
    shown: list[str] | None = None,
    secret: str = "",
    hint: str = STACK_HINT,
) -> tuple[str, str]:
    """Run a tool to its end (killed past `timeout_s`); its (stdout, stderr). `shown` is
    the command as recorded (no password); `secret` is blanked out of anything raised."""
    command = shlex.join(shown or argv)

    def clean(text: str) -> str:
        return text.replace(secret, "***") if secret else text

    log.info("running %s: %s", tool, command)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{tool}: cannot run {argv[0]!r}", hint=SETUP_HINT) from exc
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stderr) or _text(exc.stdout)
        raise NativeToolError(
            f"{tool}: no result within {timeout_s:.0f} s (killed): {command}",
            hint=hint,
            details=clean(tail(output)),
        ) from exc
    if done.returncode != 0:
        output = done.stderr.strip() or done.stdout
        last = tail(output, 1) or "(no output)"
        raise NativeToolError(
            f"{tool} exited {done.returncode}: {clean(last)}",
            hint=hint,
            details=clean(tail(output)),
        )
    return done.stdout, done.stderr


def require_positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value:g}", hint="pass a value > 0")

