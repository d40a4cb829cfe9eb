"""Event-bus checkers on hand-made histories: each check passes on a clean run and fails on a
broken one (a lost acked event, a duplicate, an out-of-order pair, a bad replay, a projection
that differs)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from pydantic import ValidationError

from gracectl.checks import (
    CONSUMER_FAILOVER_INVARIANTS,
    EVENT_METRIC_NAMES,
    EVENT_SAFETY_INVARIANTS,
    REPLAY_INVARIANTS,
    CheckPolicy,
    EventMetrics,
    Finding,
    Invariant,
    OrderViolation,
    ProjectionComparison,
    ReplayReport,
    compare_projections,
    count_per_key,
    duplicate_deliveries,
    duplicate_events,
    evaluate,
    event_metrics,
    history_metrics,
    lost_acked_events,
    offset_sort_key,
    out_of_order_events,
    projection,
    projection_hash,
    recovered_indeterminate_events,
    recovery_s,
    replay_matches,
    stored_event_ids,
    unconsumed_events,
    unexpected_events,
    verdict,
)
from gracectl.checks.events import produce_unavailability, time_to_first_produce_s
from gracectl.checks.windows import fault_union
from gracectl.history import (
    EventId,
    EventOp,
    EventRead,
    FaultWindow,
    FinalRead,
    HistoryWriter,
    Operation,
    Outcome,
    StoredEvent,
    read_event_history,
    read_history,
)

pytestmark = pytest.mark.unit

EPOCH_MS = 1_732_700_000_000
P0, P1 = "events/0", "events/1"


# --- builders -----------------------------------------------------------------------------


def ts(at: float) -> int:
    return EPOCH_MS + round(at * 1000)


def produce(
    seq: int,
    at: float,
    outcome: Outcome = "ok",
    *,
    producer: str = "producer-0",
    partition: str = P0,
    key: str | None = None,
    offset: int | None = None,
    duration: float = 0.01,
    late: bool = False,
) -> EventOp:
    """A produce sent at `at`; an `ok` one carries the offset and timestamp the broker gave."""
    acked = outcome == "ok"
    return EventOp(
        worker=producer, op="produce", key=key or f"k{seq % 3}", seq=seq, partition=partition,
        offset=str(offset) if acked and offset is not None else None,
        timestamp_ms=ts(at) if acked else None,
        intended=at, start=at, end=at + duration, outcome=outcome, late=late,
    )


def consume(
    event: StoredEvent, consumer: str, at: float, partition: str = P0, outcome: Outcome = "ok"
) -> EventOp:
    return EventOp(
        worker=consumer, op="consume", key=event.key, seq=event.seq, partition=partition,
        offset=event.offset, timestamp_ms=event.timestamp_ms, producer=event.producer,
        intended=at, start=at, end=at + 0.001, outcome=outcome,
    )


def stored(
    seq: int, offset: int | str, producer: str = "producer-0", key: str | None = None,
    at: float | None = None,
) -> StoredEvent:
    return StoredEvent(
        key=key or f"k{seq % 3}", seq=seq, producer=producer, offset=str(offset),
        timestamp_ms=None if at is None else ts(at),
    )


def log(*events: StoredEvent, partition: str = P0) -> EventRead:
    return EventRead(partitions={partition: events})


FAULTS = [FaultWindow(name="kafka.kill_broker", target="kafka-1", start=5.0, end=8.0)]


def broker_kill_history() -> list[EventOp]:
    """One produce every 0.25 s for 20 s, alternating two partitions; those sent while the
    broker is down (5 s to 8 s) fail, the first ones around the kill are indeterminate."""
    history: list[EventOp] = []
    offsets = {P0: 0, P1: 0}
    for seq in range(80):
        at = seq * 0.25
        partition = P0 if seq % 2 == 0 else P1
        outcome: Outcome = "ok"
        if 5.0 <= at < 8.0:
            outcome = "info" if at < 5.5 else "fail"
        history.append(
            produce(seq, at, outcome, partition=partition, offset=offsets[partition])
        )
        if outcome == "ok":
            offsets[partition] += 1
    return history


def final_read_of(produces: Iterable[EventOp]) -> EventRead:
    """What an honest log holds: every acked event, in offset order per partition."""
    partitions: dict[str, list[StoredEvent]] = {}
    for op in produces:
        if op.op == "produce" and op.outcome == "ok":
            assert op.offset is not None
            partitions.setdefault(op.partition, []).append(
                StoredEvent(
                    key=op.key, seq=op.seq, producer=op.worker, offset=op.offset,
                    timestamp_ms=op.timestamp_ms,
                )
            )
    return EventRead(
        partitions={
            p: tuple(sorted(events, key=lambda e: offset_sort_key(e.offset)))
            for p, events in partitions.items()
        }
    )


def without(read: EventRead, event_id: EventId) -> EventRead:
    return EventRead(
        partitions={
            p: tuple(e for e in events if e.event_id != event_id)
            for p, events in read.partitions.items()
        }
    )


def only(findings: list[Finding], name: str) -> Finding:
    (finding,) = [f for f in findings if f.name == name]
    return finding


# --- history records ----------------------------------------------------------------------


def test_event_history_round_trips_through_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    ops = [produce(0, 1.0, offset=0), produce(1, 1.5, "info")]
    ops.append(consume(stored(0, 0, at=1.0), "consumer-1", 2.0))
    writer = HistoryWriter(path)
    for op in ops:
        writer.append(op)
    writer.append(
        Operation(worker="w", op="write", value=1, intended=0, start=0, end=1, outcome="ok")
    )
    writer.close()
    with path.open("a") as fh:
        fh.write('{"worker": "producer-0", "op": "prod')  # torn last line
    assert list(read_event_history(path)) == ops
    assert [op.value for op in read_history(path)] == [1]  # each reader keeps its own kind
    assert ops[2].event_id == ("producer-0", 0)
    assert ops[0].event_id == ("producer-0", 0)
    assert ops[0].latency_s == pytest.approx(0.01)


def test_event_read_json_round_trip_keeps_log_order() -> None:
    read = EventRead(partitions={P1: (stored(3, 0),), P0: (stored(2, 7), stored(1, 8))})
    again = EventRead.model_validate(json.loads(read.model_dump_json()))
    assert again == read
    assert [e.seq for e in again.events()] == [2, 1, 3]  # partitions by name, log order kept


def test_offset_sort_key_orders_kafka_offsets_and_redis_ids() -> None:
    assert offset_sort_key("9") < offset_sort_key("10")
    assert offset_sort_key(f"{EPOCH_MS}-9") < offset_sort_key(f"{EPOCH_MS}-10")
    assert offset_sort_key(f"{EPOCH_MS}-99") < offset_sort_key(f"{EPOCH_MS + 1}-0")
    with pytest.raises(ValueError, match="not a Kafka offset"):
        offset_sort_key("abc")


# --- lost, unexpected, indeterminate ------------------------------------------------------


def test_clean_broker_kill_loses_nothing() -> None:
    history = broker_kill_history()
    read = final_read_of(history)
    assert lost_acked_events(history, read) == frozenset()
    assert unexpected_events(history, read) == frozenset()
    assert duplicate_events(read) == {}
    assert out_of_order_events(read) == ()
    assert recovered_indeterminate_events(history, read) == frozenset()


def test_a_lost_acked_event_is_found() -> None:
    history = broker_kill_history()
    read = without(final_read_of(history), ("producer-0", 41))
    assert lost_acked_events(history, read) == {("producer-0", 41)}


def test_unacked_events_are_not_lost_and_strangers_are_unexpected() -> None:
    history = [produce(0, 0, offset=0), produce(1, 1, "fail"), produce(2, 2, "info")]
    read = log(stored(0, 0), stored(2, 1), stored(7, 2, producer="ghost"))
    assert lost_acked_events(history, read) == frozenset()
    assert unexpected_events(history, read) == {("ghost", 7)}
    assert recovered_indeterminate_events(history, read) == {("producer-0", 2)}
    assert recovered_indeterminate_events(history, log(stored(0, 0))) == frozenset()


def test_an_info_produce_later_acked_by_a_retry_is_not_indeterminate() -> None:
    history = [produce(0, 0, "info"), produce(0, 1, offset=0)]
    assert recovered_indeterminate_events(history, log(stored(0, 0))) == frozenset()


def test_consume_ops_in_the_history_do_not_count_as_produces() -> None:
    history = [consume(stored(5, 0), "consumer-0", 1.0)]
    assert lost_acked_events(history, log()) == frozenset()
    assert unexpected_events(history, log(stored(5, 0))) == {("producer-0", 5)}


# --- duplicates and order -----------------------------------------------------------------


def test_a_duplicate_is_found_in_one_partition_or_across_two() -> None:
    assert duplicate_events(log(stored(0, 0), stored(1, 1), stored(1, 2))) == {
        ("producer-0", 1): 2
    }
    across = EventRead(partitions={P0: (stored(4, 0),), P1: (stored(4, 0), stored(4, 1))})
    assert duplicate_events(across) == {("producer-0", 4): 3}
    # the same seq from two producers is two events
    assert duplicate_events(log(stored(1, 0), stored(1, 1, producer="producer-1"))) == {}


def test_an_out_of_order_pair_is_one_violation() -> None:
    read = log(stored(0, 0), stored(2, 1), stored(1, 2), stored(3, 3))
    assert out_of_order_events(read) == (
        OrderViolation(partition=P0, before=("producer-0", 2), after=("producer-0", 1)),
    )


@pytest.mark.parametrize(
    ("seqs", "violations"),
    [
        ([0, 1, 2, 3], 0),
        ([0, 2, 7, 9], 0),  # gaps: other events went elsewhere (or were lost)
        ([1, 5, 2, 3, 4], 1),  # one misplaced event is one violation
        ([4, 3, 2, 1], 3),
        ([1, 2, 3, 2], 0),  # a late copy is a duplicate, not a reordering
    ],
)
def test_out_of_order_counts_adjacent_descents(seqs: list[int], violations: int) -> None:
    read = log(*(stored(seq, offset) for offset, seq in enumerate(seqs)))
    assert len(out_of_order_events(read)) == violations


def test_order_is_per_producer_and_per_partition() -> None:
    interleaved = log(
        stored(5, 0, producer="producer-1"), stored(0, 1), stored(6, 2, producer="producer-1"),
        stored(1, 3),
    )
    assert out_of_order_events(interleaved) == ()
    split = EventRead(partitions={P0: (stored(3, 0),), P1: (stored(1, 0), stored(2, 1))})
    assert out_of_order_events(split) == ()


# --- recovery -----------------------------------------------------------------------------


def test_recovery_is_fault_start_to_first_ack_sent_after_it() -> None:
    history = broker_kill_history()
    assert recovery_s(history, FAULTS) == pytest.approx(3.01)  # sent at 8.0, acked 8.01
    assert recovery_s(history, fault_union(FAULTS)) == pytest.approx(3.01)
    # a produce sent before the fault but acked after it does not count
    assert time_to_first_produce_s([produce(0, 4.9, duration=0.5)], 5.0) is None


def test_recovery_is_none_without_a_fault_or_without_a_later_ack() -> None:
    history = broker_kill_history()
    assert recovery_s(history, []) is None
    never = [op for op in history if op.start < 5.0]
    assert recovery_s(never, FAULTS) is None


# --- consumer failover (at-least-once) ----------------------------------------------------


def failover_consumes(read: EventRead) -> list[EventOp]:
    """Three consumers share the log; consumer-2 dies after its first two events and its
    last one is delivered again to consumer-0 by the rebalance."""
    events = list(read.events())
    consumes = [consume(e, f"consumer-{i % 3}", 10 + i * 0.01) for i, e in enumerate(events)]
    consumer_2 = [op for op in consumes if op.worker == "consumer-2"]
    dead_after = consumer_2[1]
    replayed = [
        op.model_copy(update={"worker": "consumer-0"})
        for op in consumer_2[1:]
    ]
    return [op for op in consumes if op.worker != "consumer-2" or op.end <= dead_after.end] + (
        replayed
    )


def test_consumer_failover_every_event_consumed_duplicates_counted() -> None:
    read = final_read_of(broker_kill_history())
    consumes = failover_consumes(read)
    assert unconsumed_events(stored_event_ids(read), consumes) == frozenset()
    assert list(duplicate_deliveries(consumes).values()) == [2]


def test_an_event_no_consumer_received_is_unconsumed() -> None:
    read = final_read_of(broker_kill_history())
    consumes = [op for op in failover_consumes(read) if op.event_id != ("producer-0", 10)]
    failed = [consume(stored(12, 6), "consumer-1", 11, outcome="fail")]
    consumes = [op for op in consumes if op.event_id != ("producer-0", 12)] + failed
    assert unconsumed_events(stored_event_ids(read), consumes) == {
        ("producer-0", 10),
        ("producer-0", 12),
    }


def test_duplicate_deliveries_count_across_consumers() -> None:
    event = stored(3, 0)
    consumes = [consume(event, "consumer-0", 1), consume(event, "consumer-1", 2)]
    consumes.append(consume(stored(4, 1), "consumer-0", 3))
    assert duplicate_deliveries(consumes) == {("producer-0", 3): 2}
    assert duplicate_deliveries(consumes[:1]) == {}


# --- replay -------------------------------------------------------------------------------


SINCE_MS = ts(10.0)


def replay_of(produces: Iterable[EventOp], since_ms: int) -> EventRead:
    full = final_read_of(produces)
    return EventRead(
        partitions={
            p: tuple(e for e in events if e.timestamp_ms is not None and e.timestamp_ms >= since_ms)
            for p, events in full.partitions.items()
        }
    )


def test_a_replay_of_exactly_the_acked_events_since_t_matches() -> None:
    history = broker_kill_history()
    report = replay_matches(history, replay_of(history, SINCE_MS), SINCE_MS)
    assert report.matches
    assert report.expected_events == report.replayed_events == 40  # 10 s .. 19.75 s
    assert not (report.missing or report.extra or report.order_violations)


def test_a_replay_missing_one_event_fails() -> None:
    history = broker_kill_history()
    replay = without(replay_of(history, SINCE_MS), ("producer-0", 50))
    report = replay_matches(history, replay, SINCE_MS)
    assert not report.matches
    assert report.missing == {("producer-0", 50)}
    assert report.extra == frozenset()


def test_a_replay_with_an_extra_event_fails() -> None:
    history = broker_kill_history()
    replay = replay_of(history, SINCE_MS)
    too_early = final_read_of(history).partitions[P0][0]  # seq 0, before T
    with_extra = EventRead(
        partitions={**replay.partitions, P0: (too_early, *replay.partitions[P0])}
    )
    report = replay_matches(history, with_extra, SINCE_MS)
    assert not report.matches
    assert report.extra == {("producer-0", 0)}
    assert report.missing == frozenset()


def test_a_replay_out_of_log_order_fails() -> None:
    history = broker_kill_history()
    replay = replay_of(history, SINCE_MS)
    first, second, *rest = replay.partitions[P0]
    swapped = EventRead(partitions={**replay.partitions, P0: (second, first, *rest)})
    report = replay_matches(history, swapped, SINCE_MS)
    assert not report.matches
    assert report.order_violations == (
        OrderViolation(partition=P0, before=second.event_id, after=first.event_id),
    )
    assert not (report.missing or report.extra)


def test_a_replay_with_a_copy_or_in_the_wrong_partition_fails() -> None:
    history = broker_kill_history()
    replay = replay_of(history, SINCE_MS)
    first = replay.partitions[P0][0]
    doubled = EventRead(partitions={**replay.partitions, P0: (*replay.partitions[P0], first)})
    assert replay_matches(history, doubled, SINCE_MS).duplicated == {first.event_id: 2}
    assert not replay_matches(history, doubled, SINCE_MS).matches
    moved = EventRead(
        partitions={P0: replay.partitions[P0][1:], P1: (first, *replay.partitions[P1])}
    )
    report = replay_matches(history, moved, SINCE_MS)
    assert report.wrong_partition == {first.event_id}
    assert not report.matches


def test_indeterminate_events_may_be_replayed() -> None:
    history = [produce(0, 11, offset=0), produce(1, 12, "info")]
    replay = log(stored(0, 0, at=11), stored(1, 1, at=12))
    assert not replay_matches(history, replay, SINCE_MS).matches
    report = replay_matches(history, replay, SINCE_MS, indeterminate=[("producer-0", 1)])
    assert report.matches
    assert report.indeterminate_replayed == {("producer-0", 1)}
    # allowed, not required
    without_it = log(stored(0, 0, at=11))
    assert replay_matches(history, without_it, SINCE_MS, indeterminate=[("producer-0", 1)]).matches


def test_replay_order_uses_redis_stream_ids() -> None:
    ids = [f"{ts(11)}-9", f"{ts(11)}-10"]
    history = [
        produce(0, 11, key="a", partition="stream", offset=None),
        produce(1, 11, key="a", partition="stream", offset=None),
    ]
    history = [op.model_copy(update={"offset": i}) for op, i in zip(history, ids, strict=True)]
    in_order = EventRead(partitions={"stream": (stored(0, ids[0]), stored(1, ids[1]))})
    reversed_ = EventRead(partitions={"stream": (stored(1, ids[1]), stored(0, ids[0]))})
    assert replay_matches(history, in_order, SINCE_MS).matches
    assert len(replay_matches(history, reversed_, SINCE_MS).order_violations) == 1


# --- projections --------------------------------------------------------------------------


def test_projection_counts_per_key_and_hashes_canonically() -> None:
    events = [stored(0, 0, key="a"), stored(1, 1, key="b"), stored(2, 2, key="a")]
    assert projection(events) == {"a": 2, "b": 1}
    assert projection_hash({"a": 2, "b": 1}) == projection_hash({"b": 1, "a": 2})
    assert projection_hash({"a": 2, "b": 1}) != projection_hash({"a": 1, "b": 2})
    assert len(projection_hash({})) == 64


def test_a_projection_rebuilt_from_a_full_replay_equals_the_live_one() -> None:
    read = final_read_of(broker_kill_history())
    consumes = failover_consumes(read)
    live = projection(consumes, distinct=True)  # an idempotent consumer
    comparison = compare_projections(live, projection(read.events()))
    assert comparison.matches
    assert comparison.differences == {}
    assert comparison.live_hash == comparison.replayed_hash


def test_a_projection_mismatch_is_found_with_the_keys_that_differ() -> None:
    read = final_read_of(broker_kill_history())
    consumes = failover_consumes(read)
    naive = projection(consumes)  # counts the redelivered event twice
    comparison = compare_projections(naive, projection(read.events()))
    assert not comparison.matches
    assert len(comparison.differences) == 1
    ((live, replayed),) = comparison.differences.values()
    assert live is not None and replayed is not None and live == replayed + 1
    assert compare_projections({"a": 1}, {}).differences == {"a": (1, None)}


def test_projection_takes_a_pluggable_fold() -> None:
    def highest_seq(state: dict[str, int], event: StoredEvent | EventOp) -> None:
        state[event.key] = max(state.get(event.key, -1), event.event_id[1])

    events = [stored(4, 0, key="a"), stored(2, 1, key="a"), stored(3, 2, key="b")]
    assert projection(events, highest_seq) == {"a": 4, "b": 3}
    assert projection(events, count_per_key) == {"a": 2, "b": 1}


# --- metrics, invariants, verdict ---------------------------------------------------------


def broker_kill_metrics(
    read: EventRead | None = None,
    consumes: list[EventOp] | None = None,
    replay: ReplayReport | None = None,
    projections: ProjectionComparison | None = None,
) -> EventMetrics:
    history = broker_kill_history()
    return event_metrics(
        history, final_read_of(history) if read is None else read, FAULTS,
        consumes=consumes, replay=replay, projections=projections,
    )


def test_metrics_of_a_clean_broker_kill() -> None:
    metrics = broker_kill_metrics()
    values = metrics.as_dict()
    assert set(values) == set(EVENT_METRIC_NAMES)
    assert values["attempted_events"] == 80
    assert values["acked_events"] == 68
    assert values["lost_acked_events"] == 0
    assert values["duplicate_events"] == 0
    assert values["out_of_order_events"] == 0
    assert values["unexpected_events"] == 0
    assert values["indeterminate_events"] == 2
    assert values["recovery_s"] == pytest.approx(3.01)
    assert values["produces_in_fault"] == 13
    assert values["late_fraction"] == 0
    for unmeasured in ("unconsumed_events", "replay_matches", "projection_hash_live"):
        assert values[unmeasured] is None
    findings = evaluate(metrics, [*EVENT_SAFETY_INVARIANTS, Invariant(name="recovery_s", max=5)])
    assert {f.status for f in findings} == {"pass"}
    assert verdict(findings) == "pass"
    assert [f.name for f in evaluate(metrics)] == [i.name for i in EVENT_SAFETY_INVARIANTS]


@pytest.mark.parametrize(
    ("broken", "metric"),
    [
        (without(final_read_of(broker_kill_history()), ("producer-0", 40)), "lost_acked_events"),
        (log(stored(0, 0), stored(0, 1)), "duplicate_events"),
        (log(stored(2, 0), stored(0, 1)), "out_of_order_events"),
        (log(stored(0, 0, producer="ghost")), "unexpected_events"),
    ],
)
def test_each_safety_invariant_fails_on_its_violation(broken: EventRead, metric: str) -> None:
    findings = evaluate(broker_kill_metrics(broken))
    assert only(findings, metric).status == "fail"
    assert verdict(findings) == "fail"


def test_duplicates_count_copies_beyond_the_first() -> None:
    values = broker_kill_metrics(log(stored(0, 0), stored(0, 1), stored(0, 2))).numbers()
    assert values["duplicate_events"] == 2


def test_nothing_acked_makes_lost_inconclusive() -> None:
    history = [produce(seq, seq, "fail") for seq in range(5)]
    metrics = event_metrics(history, EventRead(), FAULTS)
    lost = only(evaluate(metrics), "lost_acked_events")
    assert lost.status == "inconclusive"
    assert "no acknowledged event" in lost.reason


def test_no_produce_after_the_fault_makes_recovery_inconclusive() -> None:
    history = [op for op in broker_kill_history() if op.start < 5.0]
    metrics = event_metrics(history, final_read_of(history), FAULTS)
    recovery = only(evaluate(metrics, [Invariant(name="recovery_s", max=5)]), "recovery_s")
    assert recovery.status == "inconclusive"
    assert recovery.reason == "no acknowledged produce after the fault"
    no_fault = event_metrics(history, final_read_of(history), [])
    finding = only(evaluate(no_fault, [Invariant(name="recovery_s", max=5)]), "recovery_s")
    assert finding.reason == "no fault window in the history"


def test_recovery_needs_enough_produces_and_an_honest_generator() -> None:
    invariant = Invariant(name="recovery_s", max=5)
    metrics = broker_kill_metrics()
    strict = CheckPolicy(min_ops_in_window=20)
    assert "too few samples" in only(evaluate(metrics, [invariant], strict), "recovery_s").reason
    late = [op.model_copy(update={"late": True}) for op in broker_kill_history()]
    late_metrics = event_metrics(late, final_read_of(late), FAULTS)
    finding = only(evaluate(late_metrics, [invariant]), "recovery_s")
    assert finding.status == "inconclusive"
    assert "could not keep the offered rate" in finding.reason
    # safety does not depend on timing
    assert only(evaluate(late_metrics), "lost_acked_events").status == "pass"


def test_consumer_failover_invariants() -> None:
    read = final_read_of(broker_kill_history())
    consumes = failover_consumes(read)
    metrics = broker_kill_metrics(consumes=consumes)
    assert metrics.numbers()["duplicate_deliveries"] == 1
    assert metrics.numbers()["consumed_events"] == 68
    assert verdict(evaluate(metrics, CONSUMER_FAILOVER_INVARIANTS)) == "pass"
    lossy = [op for op in consumes if op.event_id != ("producer-0", 2)]
    findings = evaluate(broker_kill_metrics(consumes=lossy), CONSUMER_FAILOVER_INVARIANTS)
    assert only(findings, "unconsumed_events").status == "fail"
    assert verdict(findings) == "fail"
    # no consumer group: not measured, so not judged
    assert verdict(evaluate(broker_kill_metrics(), CONSUMER_FAILOVER_INVARIANTS)) == (
        "inconclusive"
    )
    empty = event_metrics([], EventRead(), FAULTS, consumes=[])
    assert "nothing to consume" in only(
        evaluate(empty, CONSUMER_FAILOVER_INVARIANTS), "unconsumed_events"
    ).reason


def test_replay_metrics_and_invariants() -> None:
    history = broker_kill_history()
    read = final_read_of(history)
    replay = replay_matches(history, replay_of(history, SINCE_MS), SINCE_MS)
    live = projection(failover_consumes(read), distinct=True)
    projections = compare_projections(live, projection(read.events()))
    metrics = broker_kill_metrics(replay=replay, projections=projections)
    values = metrics.as_dict()
    assert values["replay_matches"] is True
    assert values["replayed_events"] == 40
    assert values["projection_matches"] is True
    assert values["projection_hash_live"] == values["projection_hash_replayed"]
    assert values["projection_hash_live"] == projection_hash(live)
    assert verdict(evaluate(metrics, REPLAY_INVARIANTS)) == "pass"

    missing = replay_matches(
        history, without(replay_of(history, SINCE_MS), ("producer-0", 50)), SINCE_MS
    )
    naive = compare_projections(projection(failover_consumes(read)), projection(read.events()))
    bad = broker_kill_metrics(replay=missing, projections=naive)
    findings = evaluate(
        bad, [*REPLAY_INVARIANTS, Invariant(name="replay_missing_events", max=0)]
    )
    assert [f.status for f in findings] == ["fail", "fail", "fail"]
    assert bad.as_dict()["projection_hash_live"] != bad.as_dict()["projection_hash_replayed"]


def test_an_empty_replay_of_nothing_proves_nothing() -> None:
    history = [produce(0, 1, offset=0)]
    replay = replay_matches(history, EventRead(), SINCE_MS)
    assert replay.matches
    metrics = event_metrics(
        history, final_read_of(history), FAULTS, replay=replay,
        projections=compare_projections({}, {}),
    )
    findings = evaluate(metrics, REPLAY_INVARIANTS)
    assert [f.status for f in findings] == ["inconclusive", "inconclusive"]
    assert verdict(evaluate(broker_kill_metrics(), REPLAY_INVARIANTS)) == "inconclusive"


def test_invariant_names_cover_both_kinds_of_run() -> None:
    assert Invariant(name="lost_acked_events", max=0).describe() == "lost_acked_events <= 0"
    Invariant(name="replay_matches", min=1)
    with pytest.raises(ValidationError, match="is a hash, not a number"):
        Invariant(name="projection_hash_live", max=0)
    with pytest.raises(ValidationError, match="unknown metric 'lost_events'"):
        Invariant(name="lost_events", max=0)


def test_an_invariant_on_the_other_kind_of_run_is_inconclusive() -> None:
    event_finding = only(
        evaluate(broker_kill_metrics(), [Invariant(name="lost_acked_writes", max=0)]),
        "lost_acked_writes",
    )
    assert event_finding.status == "inconclusive"
    assert "not measured in an event-bus run" in event_finding.reason
    write = Operation(worker="w", op="write", value=1, intended=0, start=0, end=1, outcome="ok")
    final = FinalRead(leader="pg-1", leader_ids=frozenset({1}))
    write_metrics = history_metrics([write], [], final)
    write_finding = only(
        evaluate(write_metrics, [Invariant(name="lost_acked_events", max=0)]),
        "lost_acked_events",
    )
    assert write_finding.status == "inconclusive"
    assert "not measured in a database run" in write_finding.reason


def test_restart_outage_is_the_longest_produce_gap_not_recovery_from_the_fault_start() -> None:
    # The restart fault starts at 5 s, but the bus goes down only at 6 s (sends before that
    # still succeed) and is back at 9.5 s: recovery from the start says ~0, the gap 3.5 s.
    history = [
        produce(i, i * 0.1, "ok" if not 6.0 <= i * 0.1 < 9.5 else "fail", duration=0.01)
        for i in range(150)
    ]
    windows = [FaultWindow(name="bus.restart_all", target="bus", start=5.0, end=10.0)]
    assert recovery_s(history, windows) == pytest.approx(0.01)
    gap = produce_unavailability(history, windows)
    assert gap.longest_gap_s == pytest.approx(3.6, abs=0.02)  # last ack 5.91 -> 9.51
    assert produce_unavailability(history, []).longest_gap_s is None
