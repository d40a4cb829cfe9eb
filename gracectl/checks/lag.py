"""Replication lag as sampled during the run."""

from __future__ import annotations

from collections.abc import Iterable

from gracectl.history import LagSample


def max_replica_lag_bytes(samples: Iterable[LagSample]) -> int | None:
    """Largest lag any replica reported; None without samples (unmeasured, not zero)."""
    return max((sample.lag_bytes for sample in samples), default=None)
