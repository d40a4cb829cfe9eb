"""Replay and projections: a replay from time T must return exactly the acknowledged events
with timestamp >= T, in log order per partition; state rebuilt from a full replay must equal
the state built live.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from gracectl.checks.events import OrderViolation, offset_sort_key
from gracectl.history import EventId, EventOp, EventRead


class ReplayReport(BaseModel):
    """What a replay returned against what it should have (`matches` sums it up)."""

    model_config = ConfigDict(frozen=True)

    since_ms: int
    expected_events: int  # acked events with timestamp >= since_ms
    replayed_events: int  # events the replay returned, copies included
    missing: frozenset[EventId]  # expected, not replayed
    extra: frozenset[EventId]  # replayed, neither expected nor tolerated
    wrong_partition: frozenset[EventId]  # replayed in another partition than acknowledged
    duplicated: dict[EventId, int]  # replayed more than once: id -> times
    order_violations: tuple[OrderViolation, ...]
    # replayed events whose produce was indeterminate: allowed, not required
    indeterminate_replayed: frozenset[EventId] = frozenset()
    # acked events without a timestamp: cannot say whether they belong; neither required
    # nor extra
    untimed: frozenset[EventId] = frozenset()

    @property
    def matches(self) -> bool:
        return not (
            self.missing
            or self.extra
            or self.wrong_partition
            or self.duplicated
            or self.order_violations
        )


def replay_matches(
    produces: Iterable[EventOp],
    replayed: EventRead,
    since_ms: int,
    indeterminate: Iterable[EventId] = (),
) -> ReplayReport:
    """Compare a replay from `since_ms` with the acknowledged produces.

    Expected: `ok` produces with `timestamp_ms >= since_ms` (other ops ignored). Missing and
    extra compare identities (producer, seq) wherever they were replayed; `indeterminate`
    ids (`info` produces that may have landed) and acked events without a timestamp are
    neither required nor extra.

    Order, per partition: walk the replay, keeping the first copy of each expected event
    that was replayed in its acknowledged partition; its position is the acked offset (or
    the replayed offset when the ack carried none). Every adjacent pair whose position
    decreases is one violation.
    """
    acked: dict[EventId, EventOp] = {}
    for op in produces:
        if op.op == "produce" and op.outcome == "ok":
            acked.setdefault(op.event_id, op)
    untimed = frozenset(i for i, op in acked.items() if op.timestamp_ms is None)
    expected = {
        i: op
        for i, op in acked.items()
        if op.timestamp_ms is not None and op.timestamp_ms >= since_ms
    }
    tolerated = frozenset(indeterminate) | untimed

    copies: Counter[EventId] = Counter()
    wrong_partition: set[EventId] = set()
    violations: list[OrderViolation] = []
    for partition in sorted(replayed.partitions):
        last: tuple[EventId, tuple[int, ...]] | None = None
        for event in replayed.partitions[partition]:
            event_id = event.event_id
            copies[event_id] += 1
            ack = expected.get(event_id)
            if ack is None or copies[event_id] > 1:
                continue
            if ack.partition != partition:
                wrong_partition.add(event_id)
                continue
            position = offset_sort_key(ack.offset if ack.offset is not None else event.offset)
            if last is not None and position < last[1]:
                violations.append(
                    OrderViolation(partition=partition, before=last[0], after=event_id)
                )
            last = (event_id, position)

    replayed_ids = frozenset(copies)
    return ReplayReport(
        since_ms=since_ms,
        expected_events=len(expected),
        replayed_events=sum(copies.values()),
        missing=frozenset(expected) - replayed_ids,
        extra=replayed_ids - frozenset(expected) - tolerated,
        wrong_partition=frozenset(wrong_partition),
        duplicated={i: n for i, n in sorted(copies.items()) if n > 1},
        order_violations=tuple(violations),
        indeterminate_replayed=replayed_ids & frozenset(indeterminate),
        untimed=untimed,
    )


class ProjectedEvent(Protocol):
    """What a projection reads of an event: a `StoredEvent` or a consumed `EventOp`."""

    @property
    def key(self) -> str: ...

    @property
    def event_id(self) -> EventId: ...


Projection = dict[str, int]
ProjectionStep = Callable[[Projection, ProjectedEvent], None]


def count_per_key(state: Projection, event: ProjectedEvent) -> None:
    """The default fold: how many events each key has seen."""
    state[event.key] = state.get(event.key, 0) + 1


def projection(
    events: Iterable[ProjectedEvent],
    step: ProjectionStep = count_per_key,
    *,
    distinct: bool = False,
) -> Projection:
    """Fold events in order into a state (`step` updates it in place, per event).

    `distinct=True` applies each (producer, seq) once: the state of an idempotent consumer,
    which is what at-least-once delivery has to be compared as.
    """
    state: Projection = {}
    seen: set[EventId] = set()
    for event in events:
        if distinct:
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
        step(state, event)
    return state


def projection_hash(state: Projection) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces): equal states, equal hashes."""
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ProjectionComparison(BaseModel):
    """A live projection against one rebuilt from a replay."""

    model_config = ConfigDict(frozen=True)

    live_hash: str
    replayed_hash: str
    live_keys: int
    replayed_keys: int
    # key -> (live value, replayed value), None where the key is absent; only differing keys
    differences: dict[str, tuple[int | None, int | None]]

    @property
    def matches(self) -> bool:
        return self.live_hash == self.replayed_hash


def compare_projections(live: Projection, replayed: Projection) -> ProjectionComparison:
    """Hashes decide; the differing keys say why they differ."""
    differences = {
        key: (live.get(key), replayed.get(key))
        for key in sorted(live.keys() | replayed.keys())
        if live.get(key) != replayed.get(key)
    }
    return ProjectionComparison(
        live_hash=projection_hash(live),
        replayed_hash=projection_hash(replayed),
        live_keys=len(live),
        replayed_keys=len(replayed),
        differences=differences,
    )
