"""SIGINT and SIGTERM turned into an exception for the length of a run, so an interrupted
run unwinds through the same `finally`/`except` path (rollback, reaping, journal) as any
other end."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def signals_raise(interrupted: type[BaseException]) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM raise `interrupted(<signal name>)`; the previous
    handlers are put back on leaving it."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise interrupted(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
