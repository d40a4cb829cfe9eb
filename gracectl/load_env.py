"""What gracectl's locustfiles (loadtests/) share: their settings read from the environment
the launcher sets, psycopg's cooperative wait under gevent, and the one-line description of
an operation's error."""

from __future__ import annotations

import logging
import os

import psycopg.waiting


def env_float(name: str, default: float) -> float:
    """The variable `name` as a float; `default` when it is unset or empty."""
    raw = os.environ.get(name)
    return float(raw) if raw else default


def env_int(name: str, default: int) -> int:
    """The variable `name` as an int; `default` when it is unset or empty."""
    raw = os.environ.get(name)
    return int(raw) if raw else default


def use_cooperative_psycopg_wait(log: logging.Logger) -> None:
    """psycopg picks its wait function when it is imported: when that was before gevent
    patched `select`, its C wait would block every greenlet; switch to the cooperative
    one (with a warning)."""
    if psycopg.waiting.wait is getattr(psycopg.waiting, "wait_c", None):
        log.warning("psycopg imported before gevent monkey-patching; using its cooperative wait")
        psycopg.waiting.wait = psycopg.waiting.wait_poll


def describe_error(exc: BaseException, limit: int) -> str:
    """`<exception type>: <first line of its message>`, cut to `limit` characters."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:limit]
