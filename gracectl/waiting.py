"""Polling with a deadline: the only way gracectl waits for something to become true."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def timeout_multiplier() -> float:
    """Slow machines (CI) may stretch every timeout with GRACECTL_TIMEOUT_MULTIPLIER."""
    try:
        return max(1.0, float(os.environ.get("GRACECTL_TIMEOUT_MULTIPLIER", "1")))
    except ValueError:
        return 1.0


def wait_until(
    probe: Callable[[], T | None],
    timeout_s: float,
    interval_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T | None:
    """Call `probe` until it returns a truthy value or the deadline passes.

    Returns the first truthy value, or None on timeout. Exceptions from `probe` propagate.
    """
    deadline = clock() + timeout_s * timeout_multiplier()
    while True:
        value = probe()
        if value:
            return value
        if clock() >= deadline:
            return None
        sleep(interval_s)
