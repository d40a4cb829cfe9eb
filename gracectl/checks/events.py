"""Event-bus checkers: what producers had acknowledged against what the log holds, what
consumers received, and how long producing stayed broken after a fault.

Vocabulary, over the `produce` ops of an event history (`EventOp`) and the final read
(`EventRead`), with events identified by (producer, seq) (`EventId`):
attempted = every produce, whatever its outcome; acked = `ok` produces;
stored = every event in any partition of the final read;
lost = acked - stored; unexpected = stored - attempted;
indeterminate = `info` produces never acked; recovered = indeterminate & stored.
Each function makes one pass over what it is given; nothing here does I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from pydantic import BaseModel, ConfigDict

from gracectl.checks.availability import (
    WriteUnavailability,
    ack_gaps,
    first_ack_after,
    slowest_recovery,
)
from gracectl.checks.windows import FaultUnion, fault_union
from gracectl.history import EventId, EventOp, EventRead, FaultWindow


def offset_sort_key(offset: str) -> tuple[int, ...]:
    """Log position of an offset, comparable within one partition / stream.

    Kafka offsets ("42") become (42,); Redis stream ids ("1732700000000-3") become
    (1732700000000, 3), compared milliseconds first, as Redis orders them.
    """
    try:
        return tuple(int(part) for part in offset.split("-"))
    except ValueError:
        raise ValueError(f"not a Kafka offset or Redis stream id: {offset!r}") from None


def event_id_label(event_id: EventId) -> str:
    """How journals name an event: "producer-0:41" (a producer name holds no colon)."""
    producer, seq = event_id
    return f"{producer}:{seq}"


def _produce_ids(produces: Iterable[EventOp], outcome: str | None = None) -> set[EventId]:
    return {
        op.event_id
        for op in produces
        if op.op == "produce" and (outcome is None or op.outcome == outcome)
    }


def attempted_event_ids(produces: Iterable[EventOp]) -> frozenset[EventId]:
    """Every event a producer tried to send (consume ops ignored)."""
    return frozenset(_produce_ids(produces))


def acked_event_ids(produces: Iterable[EventOp]) -> frozenset[EventId]:
    """Events whose produce was acknowledged (`ok`)."""
    return frozenset(_produce_ids(produces, "ok"))


def stored_event_ids(final_read: EventRead) -> frozenset[EventId]:
    """Events present in any partition of the read."""
    return frozenset(event.event_id for event in final_read.events())


def lost_acked_events(produces: Iterable[EventOp], final_read: EventRead) -> frozenset[EventId]:
    """Acknowledged events absent from every partition of the final read."""
    return acked_event_ids(produces) - stored_event_ids(final_read)


def unexpected_events(produces: Iterable[EventOp], final_read: EventRead) -> frozenset[EventId]:
    """Events in the final read that no producer ever attempted."""
    return stored_event_ids(final_read) - attempted_event_ids(produces)


def indeterminate_event_ids(produces: Iterable[EventOp]) -> frozenset[EventId]:
    """`info` produces (timed out, connection lost) never acknowledged by a retry."""
    info: set[EventId] = set()
    acked: set[EventId] = set()
    for op in produces:
        if op.op != "produce":
            continue
        if op.outcome == "info":
            info.add(op.event_id)
        elif op.outcome == "ok":
            acked.add(op.event_id)
    return frozenset(info - acked)


def recovered_indeterminate_events(
    produces: Iterable[EventOp], final_read: EventRead
) -> frozenset[EventId]:
    """Indeterminate produces that did land in the log (fine: `info` means maybe)."""
    return indeterminate_event_ids(produces) & stored_event_ids(final_read)


def failed_events_present(produces: Iterable[EventOp], final_read: EventRead) -> frozenset[EventId]:
    """Events only ever reported `fail` (definitely not written) that are in the log anyway."""
    failed: set[EventId] = set()
    other: set[EventId] = set()
    for op in produces:
        if op.op == "produce":
            (failed if op.outcome == "fail" else other).add(op.event_id)
    return frozenset(failed - other) & stored_event_ids(final_read)


def _extra_copies(ids: Iterable[EventId]) -> dict[EventId, int]:
    counts = Counter(ids)
    return {event_id: n for event_id, n in sorted(counts.items()) if n > 1}


def duplicate_events(final_read: EventRead) -> dict[EventId, int]:
    """Events stored more than once (in one partition or across partitions): id -> copies."""
    return _extra_copies(event.event_id for event in final_read.events())


def duplicate_deliveries(consumes: Iterable[EventOp]) -> dict[EventId, int]:
    """Events delivered (`ok` consume, any consumer of the group) more than once: id -> times.

    Expected under at-least-once delivery after a consumer failover; counted, not a loss.
    """
    return _extra_copies(
        op.event_id for op in consumes if op.op == "consume" and op.outcome == "ok"
    )


def extra_copies(duplicates: dict[EventId, int]) -> int:
    """Copies beyond the first, summed: how many more were stored/delivered than should be."""
    return sum(n - 1 for n in duplicates.values())


class OrderViolation(BaseModel):
    """`after` sits right after `before` in the log of `partition` but should precede it."""

    model_config = ConfigDict(frozen=True)

    partition: str
    before: EventId
    after: EventId


def out_of_order_events(final_read: EventRead) -> tuple[OrderViolation, ...]:
    """Per-partition, per-producer order: seq must increase along the log.

    Exactly: for each partition, take the events of one producer in log order, keeping only
    the first copy of each seq (later copies are counted by `duplicate_events`, not here).
    Every adjacent pair whose seq decreases is one violation. Gaps are fine (a producer's
    other events went to other partitions, or were lost). So 1,5,2,3,4 is one violation
    (5 -> 2) and 4,3,2,1 is three.
    """
    violations: list[OrderViolation] = []
    for partition in sorted(final_read.partitions):
        seen: set[EventId] = set()
        last_seq: dict[str, int] = {}
        for event in final_read.partitions[partition]:
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
            previous = last_seq.get(event.producer)
            if previous is not None and event.seq < previous:
                violations.append(
                    OrderViolation(
                        partition=partition,
                        before=(event.producer, previous),
                        after=event.event_id,
                    )
                )
            last_seq[event.producer] = event.seq
    return tuple(violations)


def unconsumed_events(
    expected: Iterable[EventId], consumes: Iterable[EventOp]
) -> frozenset[EventId]:
    """Events (acked, or stored: the caller chooses) that no consumer of the group received.

    At-least-once: every such event must be consumed (`ok`) at least once, by any consumer.
    """
    consumed = {op.event_id for op in consumes if op.op == "consume" and op.outcome == "ok"}
    return frozenset(expected) - consumed


def _ok_produces(produces: Iterable[EventOp]) -> Iterator[tuple[float, float]]:
    return ((op.start, op.end) for op in produces if op.op == "produce" and op.outcome == "ok")


def time_to_first_produce_s(produces: Iterable[EventOp], since: float) -> float | None:
    """Seconds from `since` to the acknowledgement (`end`) of the first `ok` produce sent
    (`start`) at or after `since`; None when there is none.

    Produces sent before `since` do not count even if acknowledged after it: the broker may
    have taken them before the fault did anything.
    """
    return first_ack_after(_ok_produces(produces), [since])[0]


def recovery_s(
    produces: Iterable[EventOp], faults: FaultUnion | Iterable[FaultWindow]
) -> float | None:
    """Time until producing succeeds again, for the slowest fault (`slowest_recovery`).
    None when there is no fault or no produce succeeded after one."""
    union = faults if isinstance(faults, FaultUnion) else fault_union(faults)
    return slowest_recovery(_ok_produces(produces), union)


def produce_unavailability(
    produces: Iterable[EventOp], faults: FaultUnion | Iterable[FaultWindow]
) -> WriteUnavailability:
    """Gaps without any acknowledged produce that touch a fault window (`ack_gaps`).

    For a fault that stops and restarts the bus, recovery from the fault's start says little
    (sends that left just before the stop still succeed); the longest gap is the outage.
    """
    union = faults if isinstance(faults, FaultUnion) else fault_union(faults)
    return ack_gaps(
        ((op.end, op.outcome == "ok") for op in produces if op.op == "produce"), union
    )


def count_produces_in_fault(produces: Iterable[EventOp], faults: FaultUnion) -> int:
    """Produces (any outcome) whose life touched a fault window: the sample behind recovery."""
    return sum(1 for op in produces if op.op == "produce" and faults.phase_of(op) == "during")
