"""The recorded history of a run: one JSON object per operation, one per line, streamed to disk.

Jepsen's vocabulary: an operation is `ok` (acknowledged), `fail` (definitely did not happen)
or `info` (indeterminate: the connection broke or timed out after the request was sent, so it
may or may not have taken effect). Times are Unix seconds (float). `intended` is when the
open-model schedule planned the operation; latency is measured from it, so a stall shows up
as latency instead of vanishing (coordinated omission).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["ok", "fail", "info"]
OpKind = Literal["write", "read"]


class Operation(BaseModel):
    model_config = ConfigDict(frozen=True)

    worker: str  # "writer-3", "reader-0"
    op: OpKind
    value: int | None = None  # the unique id written, or the id read
    intended: float  # planned send time
    start: float  # actual send time (>= intended when the generator ran late)
    end: float
    outcome: Outcome
    error: str | None = None
    late: bool = False  # could not be sent on time (start - intended beyond tolerance)

    @property
    def latency_s(self) -> float:
        """From the planned send time: includes time spent waiting behind a stall."""
        return self.end - self.intended


class FaultWindow(BaseModel):
    """A fault as it happened: from injection to healed (end None: never healed in the run)."""

    model_config = ConfigDict(frozen=True)

    name: str  # "postgres.kill_leader"
    target: str  # "pg-1"
    start: float
    end: float | None = None


class FinalRead(BaseModel):
    """Every id found after the run: on the leader, and on each replica once caught up."""

    model_config = ConfigDict(frozen=True)

    leader: str
    leader_ids: frozenset[int]
    replica_ids: dict[str, frozenset[int]] = {}
    # A set cannot hold an id twice, so the reader reports ids it saw more than once here
    # (id -> times seen, always > 1): a write applied twice is a violation the set would hide.
    leader_duplicates: dict[int, int] = {}


class LagSample(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: float
    node: str
    lag_bytes: int


class HistoryWriter:
    """Appends operations to a JSON-lines file, flushed per line (nothing held in memory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] = path.open("a", buffering=1)

    def append(self, op: Operation) -> None:
        self._fh.write(op.model_dump_json(exclude_defaults=True) + "\n")

    def close(self) -> None:
        self._fh.close()


def read_history(path: Path) -> Iterator[Operation]:
    """Stream operations back; a torn last line (writer killed mid-write) is skipped."""
    with path.open() as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield Operation.model_validate(json.loads(line))
            except ValueError:
                continue
