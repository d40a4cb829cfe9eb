"""Checkers on hand-made histories: each check passes on a clean run and fails on a broken one."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from pydantic import ValidationError

from gracectl.checks import (
    METRIC_NAMES,
    SAFETY_INVARIANTS,
    CheckPolicy,
    Finding,
    Invariant,
    check_write_set,
    evaluate,
    fault_union,
    generator_health,
    history_metrics,
    latency_by_phase,
    max_replica_lag_bytes,
    metrics_dict,
    percentile_nearest_rank,
    read_availability,
    rto_s,
    summarize_latencies,
    time_to_first_write_s,
    verdict,
    write_unavailability,
)
from gracectl.history import (
    FaultWindow,
    FinalRead,
    HistoryWriter,
    LagSample,
    Operation,
    Outcome,
    read_history,
)

pytestmark = pytest.mark.unit


# --- builders ---------------------------------------------------------------------------


def write(
    value: int | None,
    at: float,
    outcome: Outcome = "ok",
    duration: float = 0.01,
    intended: float | None = None,
    late: bool = False,
    worker: str = "writer-0",
) -> Operation:
    """A write sent at `at` (planned at `intended`, default the same) taking `duration`."""
    return Operation(
        worker=worker, op="write", value=value, intended=at if intended is None else intended,
        start=at, end=at + duration, outcome=outcome, late=late,
    )


def read(
    at: float, outcome: Outcome = "ok", duration: float = 0.01, intended: float | None = None
) -> Operation:
    return Operation(
        worker="reader-0", op="read", value=None, intended=at if intended is None else intended,
        start=at, end=at + duration, outcome=outcome,
    )


def steady_writes(
    start: float, stop: float, step: float, outcome_at: Callable[[float], Outcome],
    first_value: int = 0,
) -> list[Operation]:
    """One write every `step` seconds in [start, stop), ids counting up from `first_value`."""
    count = round((stop - start) / step)
    times = [start + i * step for i in range(count)]
    return [write(first_value + i, t, outcome_at(t)) for i, t in enumerate(times)]


def steady_reads(
    start: float, stop: float, step: float, outcome_at: Callable[[float], Outcome]
) -> list[Operation]:
    count = round((stop - start) / step)
    return [read(start + i * step, outcome_at(start + i * step)) for i in range(count)]


def final(ids: Iterable[int], **replicas: Iterable[int]) -> FinalRead:
    return FinalRead(
        leader="pg-0", leader_ids=frozenset(ids),
        replica_ids={name: frozenset(v) for name, v in replicas.items()},
    )


def fault(start: float, end: float | None) -> FaultWindow:
    return FaultWindow(name="postgres.kill_leader", target="pg-1", start=start, end=end)


def ok_always(_: float) -> Outcome:
    return "ok"


def down_between(down_from: float, down_until: float) -> Callable[[float], Outcome]:
    def outcome(at: float) -> Outcome:
        return "fail" if down_from <= at < down_until else "ok"

    return outcome


def failover_history() -> list[Operation]:
    """0-20 s, a write every 0.1 s and a read every 0.1 s; the leader dies at 10 s and writes
    fail until 15 s, reads fail until 12 s; the fault is healed at 16 s."""
    return steady_writes(0, 20, 0.1, down_between(10, 15)) + steady_reads(
        0.05, 20.05, 0.1, down_between(10, 12)
    )


FAILOVER_FAULTS = [fault(10, 16)]


def only(findings: list[Finding], name: str) -> Finding:
    (finding,) = [f for f in findings if f.name == name]
    return finding


# --- fault windows ------------------------------------------------------------------------


def test_fault_union_merges_overlapping_windows_and_keeps_disjoint_ones() -> None:
    union = fault_union([fault(30, 40), fault(10, 20), fault(15, 25), fault(20, 22)])
    assert [(i.start, i.end) for i in union.intervals] == [(10, 25), (30, 40)]
    assert union.first_start == 10


def test_unhealed_window_is_open_to_the_end_and_absorbs_later_ones() -> None:
    union = fault_union([fault(10, None), fault(50, 60)])
    assert [(i.start, i.end) for i in union.intervals] == [(10, math.inf)]


def test_no_faults_is_an_empty_union_and_everything_is_before() -> None:
    union = fault_union([])
    assert union.first_start is None
    assert union.phase_of(write(1, 100)) == "before"


def test_phase_of_uses_the_life_from_intended_to_end() -> None:
    union = fault_union([fault(10, 20), fault(30, 40)])
    assert union.phase_of(write(1, 5)) == "before"
    assert union.phase_of(write(1, 15)) == "during"
    # sent before the fault, stalled by it: affected, so "during"
    assert union.phase_of(write(1, 9.5, duration=1.0)) == "during"
    # planned before the fault although sent after it healed (late): still touched it
    assert union.phase_of(write(1, 21, intended=9.0)) == "during"
    assert union.phase_of(write(1, 25)) == "after"  # between two windows
    assert union.phase_of(write(1, 45)) == "after"


# --- write set ----------------------------------------------------------------------------


def test_clean_write_set_has_nothing_to_report() -> None:
    ops = [write(1, 0), write(2, 1), write(3, 2, "fail"), read(3)]
    report = check_write_set(ops, final({1, 2}, **{"pg-1": {1, 2}}))
    assert report.attempted_ids == {1, 2, 3}
    assert report.acked_ids == {1, 2}
    assert report.lost_acked_ids == frozenset()
    assert report.lost_acked_ids_by_replica == {}
    assert report.unexpected_ids == frozenset()
    assert report.failed_but_present_ids == frozenset()
    assert report.duplicate_ids == frozenset()
    assert report.replicas_read == ("pg-1",)


def test_acked_write_missing_on_leader_is_lost() -> None:
    report = check_write_set([write(1, 0), write(2, 1), write(3, 2)], final({1, 3}))
    assert report.lost_acked_ids == {2}


def test_acked_writes_missing_per_replica() -> None:
    ops = [write(1, 0), write(2, 1), write(3, 2)]
    report = check_write_set(ops, final({1, 2, 3}, **{"pg-1": {1, 2, 3}, "pg-2": {1}}))
    assert report.lost_acked_ids == frozenset()
    assert report.lost_acked_ids_by_replica == {"pg-2": {2, 3}}


def test_ids_never_attempted_are_unexpected_on_leader_or_replica() -> None:
    ops = [write(1, 0), write(2, 1, "fail")]
    report = check_write_set(ops, final({1, 99}, **{"pg-1": {1, 77}}))
    assert report.unexpected_ids == {99, 77}


def test_indeterminate_writes_are_recovered_when_present_never_lost() -> None:
    ops = [write(1, 0), write(2, 1, "info"), write(3, 2, "info"), write(4, 3, "info")]
    report = check_write_set(ops, final({1, 2}))
    assert report.indeterminate_ids == {2, 3, 4}
    assert report.recovered_indeterminate_ids == {2}
    assert report.unrecovered_indeterminate_count == 2
    assert report.lost_acked_ids == frozenset()


def test_info_then_ok_retry_of_the_same_id_is_acked_not_indeterminate() -> None:
    report = check_write_set([write(1, 0, "info"), write(1, 1, "ok")], final({1}))
    assert report.indeterminate_ids == frozenset()
    assert report.acked_ids == {1}


def test_failed_write_that_landed_is_reported() -> None:
    ops = [write(1, 0, "fail"), write(2, 1, "fail")]
    report = check_write_set(ops, final({1}))
    assert report.failed_but_present_ids == {1}
    assert report.unexpected_ids == frozenset()  # it was attempted


def test_duplicates_in_the_history_and_in_the_final_read() -> None:
    ops = [write(1, 0), write(1, 1), write(2, 2), write(3, 3)]
    final_read = FinalRead(
        leader="pg-0", leader_ids=frozenset({1, 2, 3}), leader_duplicates={3: 2, 2: 1}
    )
    report = check_write_set(ops, final_read)
    assert report.duplicate_acked_ids == {1: 2}
    assert report.duplicate_read_ids == {3: 2}  # a count of 1 is not a duplicate
    assert report.duplicate_ids == {1, 3}


def test_reads_and_writes_without_id_are_ignored_by_the_set_checker() -> None:
    ops = [write(None, 0), read(1), write(5, 2)]
    report = check_write_set(ops, final({5}))
    assert report.attempted_ids == {5}


def test_final_read_stays_backward_compatible() -> None:
    old_json = '{"leader": "pg-0", "leader_ids": [1, 2], "replica_ids": {"pg-1": [1]}}'
    final_read = FinalRead.model_validate_json(old_json)
    assert final_read.leader_duplicates == {}
    again = FinalRead.model_validate_json(
        FinalRead(leader="pg-0", leader_ids=frozenset({1}), leader_duplicates={1: 3})
        .model_dump_json()
    )
    assert again.leader_duplicates == {1: 3}


def test_write_set_checker_accepts_a_one_shot_iterator() -> None:
    report = check_write_set(iter([write(1, 0), write(2, 1)]), final({1}))
    assert report.lost_acked_ids == {2}


# --- availability: RTO -------------------------------------------------------------------


def test_rto_is_time_to_first_acknowledged_write_sent_after_the_fault() -> None:
    union = fault_union(FAILOVER_FAULTS)
    assert rto_s(failover_history(), union) == pytest.approx(5.01)


def test_rto_ignores_writes_sent_before_the_fault_even_if_acked_after_it() -> None:
    ops = [write(1, 9.9, duration=0.5), write(2, 10.2, "fail"), write(3, 13.0, duration=0.25)]
    assert rto_s(ops, fault_union([fault(10, 20)])) == pytest.approx(3.25)


def test_rto_is_none_when_no_write_succeeds_after_the_fault() -> None:
    ops = steady_writes(0, 20, 0.1, down_between(10, 99))
    assert rto_s(ops, fault_union([fault(10, None)])) is None


def test_rto_is_none_without_a_fault() -> None:
    assert rto_s([write(1, 0)], fault_union([])) is None


def test_rto_counts_from_the_first_of_overlapping_faults() -> None:
    ops = [write(1, 14.0, duration=1.0)]
    union = fault_union([fault(12, 20), fault(10, 13)])
    assert rto_s(ops, union) == pytest.approx(5.0)
    assert time_to_first_write_s(ops, since=12.0) == pytest.approx(3.0)


def test_rto_is_the_slowest_recovery_of_each_fault_not_from_the_first_only() -> None:
    # Frozen replication from 4 s leaves writes working; the leader killed at 8 s stops them
    # until 12.2 s. Measured from the first fault only, RTO would be ~0.
    ops = [
        *steady_writes(0, 8, 0.1, ok_always),
        *steady_writes(8, 20, 0.1, down_between(8, 12.2)),
    ]
    union = fault_union([fault(4, 16), fault(8, 9)])
    assert union.starts == (4, 8)
    assert rto_s(ops, union) == pytest.approx(4.21, abs=0.02)


def test_rto_is_none_when_a_later_fault_never_recovers() -> None:
    ops = steady_writes(0, 20, 0.1, down_between(15, 99))
    assert rto_s(ops, fault_union([fault(5, 6), fault(15, None)])) is None


def test_rto_picks_the_earliest_acknowledgement_not_the_earliest_send() -> None:
    ops = [write(1, 11.0, duration=5.0), write(2, 12.0, duration=1.0)]
    assert rto_s(ops, fault_union([fault(10, 20)])) == pytest.approx(3.0)


# --- availability: write outage -----------------------------------------------------------


def test_write_outage_is_the_gap_in_acknowledgements_clipped_to_the_fault() -> None:
    outage = write_unavailability(failover_history(), fault_union(FAILOVER_FAULTS))
    assert outage.longest_gap_s == pytest.approx(5.01)  # fault start 10 -> ack at 15.01
    assert outage.total_s == pytest.approx(5.01)  # the 0.1 s spacing between acks is not outage
    assert len(outage.gaps) == 1
    assert outage.gaps[0][0] == 10
    assert outage.recovered


def test_healthy_run_under_fault_has_no_outage_beyond_normal_spacing() -> None:
    ops = steady_writes(0, 20, 0.1, ok_always)
    outage = write_unavailability(ops, fault_union([fault(10, 12)]))
    assert outage.total_s == 0
    assert outage.longest_gap_s == pytest.approx(0.1)


def test_outage_not_touching_any_fault_is_not_counted() -> None:
    ops = steady_writes(0, 30, 0.1, down_between(2, 6))
    outage = write_unavailability(ops, fault_union([fault(20, 25)]))
    assert outage.total_s == 0


def test_outages_in_two_disjoint_windows_add_up() -> None:
    ops = steady_writes(0, 40, 0.1, lambda t: "fail" if 10 <= t < 13 or 30 <= t < 32 else "ok")
    outage = write_unavailability(ops, fault_union([fault(10, 14), fault(30, 33)]))
    assert outage.longest_gap_s == pytest.approx(3.01)
    assert outage.total_s == pytest.approx(3.01 + 2.01)
    assert len(outage.gaps) == 2


def test_overlapping_faults_count_one_outage_once() -> None:
    ops = steady_writes(0, 20, 0.1, down_between(10, 14))
    outage = write_unavailability(ops, fault_union([fault(10, 13), fault(11, 15)]))
    assert outage.total_s == pytest.approx(4.01)


def test_writes_that_never_recover_give_a_lower_bound_to_the_end_of_writes() -> None:
    ops = [*steady_writes(0, 20, 0.1, down_between(10, 99)), read(40)]
    outage = write_unavailability(ops, fault_union([fault(10, None)]))
    assert outage.longest_gap_s == pytest.approx(9.91)  # last write ends at 19.91, not 40
    assert outage.total_s == pytest.approx(9.91)
    assert not outage.recovered


def test_stalled_writes_that_end_ok_late_are_an_outage_too() -> None:
    ops = [write(1, 9.9), write(2, 10.5, duration=4.0), write(3, 10.6, duration=3.95)]
    outage = write_unavailability(ops, fault_union([fault(10, 12)]))
    assert outage.longest_gap_s == pytest.approx(4.5)
    assert outage.total_s == pytest.approx(4.5)


def test_min_gap_decides_what_counts_towards_the_total() -> None:
    ops = steady_writes(0, 20, 0.1, down_between(10, 10.5))
    union = fault_union([fault(10, 11)])
    assert write_unavailability(ops, union).total_s == 0
    assert write_unavailability(ops, union, min_gap_s=0.2).total_s == pytest.approx(0.51)


def test_no_fault_or_no_write_means_outage_not_measured() -> None:
    assert write_unavailability([write(1, 0)], fault_union([])).longest_gap_s is None
    assert write_unavailability([read(0)], fault_union([fault(0, 1)])).longest_gap_s is None


# --- availability: reads ------------------------------------------------------------------


def test_read_availability_is_the_ok_share_of_reads_during_the_fault() -> None:
    availability = read_availability(failover_history(), fault_union(FAILOVER_FAULTS))
    assert availability.reads_in_fault == 60
    assert availability.ok_reads_in_fault == 40
    assert availability.fraction == pytest.approx(2 / 3)


def test_read_availability_of_an_unhealed_fault_runs_to_the_end() -> None:
    ops = [read(5, "fail"), read(11, "fail"), read(50), read(90, "info")]
    availability = read_availability(ops, fault_union([fault(10, None)]))
    assert (availability.reads_in_fault, availability.ok_reads_in_fault) == (3, 1)


def test_read_availability_without_reads_in_the_window_is_unmeasured() -> None:
    availability = read_availability([read(1), write(1, 12)], fault_union([fault(10, 20)]))
    assert availability.fraction is None


# --- latency ------------------------------------------------------------------------------


def test_nearest_rank_percentiles_are_exact_samples() -> None:
    hundred = [float(i) for i in range(1, 101)]
    assert percentile_nearest_rank(hundred, 50) == 50
    assert percentile_nearest_rank(hundred, 99) == 99
    assert percentile_nearest_rank(hundred, 99.9) == 100
    assert percentile_nearest_rank(hundred, 100) == 100
    thousand = [float(i) for i in range(1, 1001)]
    assert percentile_nearest_rank(thousand, 99.9) == 999  # not 1000 by float rounding
    assert percentile_nearest_rank([7.0], 50) == 7.0
    assert percentile_nearest_rank([1.0, 2.0], 0.1) == 1.0


def test_percentile_rejects_no_samples_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile_nearest_rank([], 50)
    with pytest.raises(ValueError, match="percentile"):
        percentile_nearest_rank([1.0], 0)
    with pytest.raises(ValueError, match="percentile"):
        percentile_nearest_rank([1.0], 101)


def test_summary_counts_and_sorts_its_input() -> None:
    summary = summarize_latencies([3.0, 1.0, 2.0, 4.0])
    assert (summary.count, summary.p50_s, summary.p99_s, summary.p999_s) == (4, 2.0, 4.0, 4.0)
    empty = summarize_latencies([])
    assert (empty.count, empty.p50_s, empty.p99_s, empty.p999_s) == (0, None, None, None)


def test_latency_is_split_by_phase_over_ok_operations_only() -> None:
    ops = [
        write(1, 1, duration=0.01),
        write(2, 2, duration=0.02),
        write(3, 11, duration=2.0),
        write(4, 12, "fail", duration=9.0),  # errors are availability's business
        read(13, duration=0.5),
        write(5, 25, duration=0.03),
    ]
    by_phase = latency_by_phase(ops, fault_union([fault(10, 20)]))
    assert by_phase["before"].count == 2
    assert by_phase["before"].p99_s == pytest.approx(0.02)
    assert by_phase["during"].count == 2
    assert by_phase["during"].p50_s == pytest.approx(0.5)
    assert by_phase["during"].p999_s == pytest.approx(2.0)
    assert by_phase["after"].count == 1
    reads_only = latency_by_phase(ops, fault_union([fault(10, 20)]), kind="read")
    assert reads_only["during"].count == 1
    assert reads_only["before"].p50_s is None


def test_latency_from_intended_start_shows_a_generator_stall() -> None:
    """Coordinated omission: sends planned during a 2 s stall go out late, all at 5 s."""
    ops = []
    for i in range(800):
        intended = i * 0.01
        sent = 5.0 if 3.0 <= intended < 5.0 else intended
        ops.append(write(i, sent, duration=0.001, intended=intended, late=sent > intended))
    latency = latency_by_phase(ops, fault_union([]))["before"]
    assert latency.count == 800
    assert latency.p50_s == pytest.approx(0.001)
    assert latency.p99_s is not None and latency.p99_s > 1.9
    assert latency.p999_s == pytest.approx(2.001)


# --- generator and lag --------------------------------------------------------------------


def test_generator_health_offered_versus_achieved_rate() -> None:
    ops = [
        write(i, at=i * 0.02, intended=i * 0.01, late=i % 2 == 1) for i in range(101)
    ]
    health = generator_health(ops)
    assert health.operations == 101
    assert health.late_operations == 50
    assert health.late_fraction == pytest.approx(50 / 101)
    assert health.offered_rate_per_s == pytest.approx(100.0)
    assert health.achieved_rate_per_s == pytest.approx(50.0)


def test_generator_health_of_tiny_histories_is_unmeasured() -> None:
    empty = generator_health([])
    assert (empty.late_fraction, empty.offered_rate_per_s, empty.achieved_rate_per_s) == (
        None, None, None,
    )
    assert generator_health([write(1, 0)]).offered_rate_per_s is None


def test_max_replica_lag() -> None:
    samples = [
        LagSample(at=1, node="pg-1", lag_bytes=10),
        LagSample(at=2, node="pg-2", lag_bytes=4096),
        LagSample(at=3, node="pg-1", lag_bytes=0),
    ]
    assert max_replica_lag_bytes(samples) == 4096
    assert max_replica_lag_bytes([]) is None


# --- metrics ------------------------------------------------------------------------------


def failover_final_read() -> FinalRead:
    acked = {op.value for op in failover_history() if op.op == "write" and op.outcome == "ok"}
    ids = {value for value in acked if value is not None}
    return final(ids, **{"pg-1": ids, "pg-2": ids})


def test_metrics_of_a_clean_failover() -> None:
    lag = [LagSample(at=12, node="pg-2", lag_bytes=8192)]
    values = metrics_dict(failover_history(), FAILOVER_FAULTS, failover_final_read(), lag)
    assert set(values) == set(METRIC_NAMES)
    assert values["rto_s"] == pytest.approx(5.01)
    assert values["attempted_writes"] == 200
    assert values["acked_writes"] == 150
    assert values["lost_acked_writes"] == 0
    assert values["lost_acked_writes_on_replicas"] == 0
    assert values["unexpected_writes"] == 0
    assert values["indeterminate_writes"] == 0
    assert values["duplicate_writes"] == 0
    assert values["writes_in_fault"] == 61
    assert values["write_unavailable_s"] == pytest.approx(5.01)
    assert values["write_unavailable_longest_s"] == pytest.approx(5.01)
    assert values["reads_in_fault"] == 60
    assert values["read_availability"] == pytest.approx(2 / 3)
    assert values["max_replica_lag_bytes"] == 8192
    assert values["late_fraction"] == 0
    assert values["offered_rate_per_s"] == pytest.approx(20.0)
    assert values["achieved_rate_per_s"] == pytest.approx(20.0)
    assert values["latency_before_count"] == 200
    assert values["latency_during_count"] == 51
    assert values["latency_after_count"] == 79
    assert values["latency_during_p99_s"] == pytest.approx(0.01)


def test_metrics_count_every_kind_of_write_set_violation() -> None:
    ops = [
        write(1, 0), write(2, 1), write(2, 2), write(3, 3, "info"), write(4, 4, "info"),
        write(5, 5, "fail"), write(6, 6),
    ]
    final_read = FinalRead(
        leader="pg-0", leader_ids=frozenset({1, 2, 3, 5, 42}),
        replica_ids={"pg-1": frozenset({1})}, leader_duplicates={1: 2},
    )
    values = metrics_dict(ops, [], final_read)
    assert values["lost_acked_writes"] == 1  # 6
    assert values["lost_acked_writes_on_replicas"] == 2  # 2 and 6 missing on pg-1
    assert values["unexpected_writes"] == 1  # 42
    assert values["indeterminate_writes"] == 2
    assert values["recovered_indeterminate_writes"] == 1
    assert values["unrecovered_indeterminate_writes"] == 1
    assert values["failed_writes_present"] == 1
    assert values["duplicate_writes"] == 2  # 2 acked twice, 1 read twice
    assert values["rto_s"] is None
    assert values["write_unavailable_s"] is None


def test_metrics_from_a_streamed_history_file_match_the_list(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    writer = HistoryWriter(path)
    for operation in failover_history():
        writer.append(operation)
    writer.close()
    expected = metrics_dict(failover_history(), FAILOVER_FAULTS, failover_final_read())
    streamed = metrics_dict(lambda: read_history(path), FAILOVER_FAULTS, failover_final_read())
    one_shot = metrics_dict(read_history(path), FAILOVER_FAULTS, failover_final_read())
    assert streamed == expected
    assert one_shot == expected


# --- invariants, findings, verdict --------------------------------------------------------


def failover_findings(
    *invariants: Invariant, history: list[Operation] | None = None,
    policy: CheckPolicy | None = None, final_read: FinalRead | None = None,
    faults: list[FaultWindow] | None = None, lag: list[LagSample] | None = None,
) -> list[Finding]:
    metrics = history_metrics(
        failover_history() if history is None else history,
        FAILOVER_FAULTS if faults is None else faults,
        failover_final_read() if final_read is None else final_read,
        lag or [],
    )
    return evaluate(metrics, invariants, policy)


def test_invariant_validation() -> None:
    with pytest.raises(ValidationError, match="unknown metric 'rto'"):
        Invariant(name="rto", max=1)
    with pytest.raises(ValidationError, match="needs max or min"):
        Invariant(name="rto_s")
    with pytest.raises(ValidationError):
        Invariant.model_validate({"name": "rto_s", "max": 1, "maximum": 2})
    assert Invariant(name="read_availability", min=0.5, max=1).describe() == (
        "read_availability >= 0.5 and <= 1"
    )


def test_clean_failover_passes_its_claims() -> None:
    findings = failover_findings(
        *SAFETY_INVARIANTS,
        Invariant(name="lost_acked_writes_on_replicas", max=0),
        Invariant(name="rto_s", max=10),
        Invariant(name="write_unavailable_s", max=6),
        Invariant(name="read_availability", min=0.5),
        Invariant(name="latency_during_p99_s", max=0.1),
        Invariant(name="max_replica_lag_bytes", max=1 << 20),
        Invariant(name="latency_before_p999_s", max=0.1),
        lag=[LagSample(at=1, node="pg-1", lag_bytes=100)],
    )
    assert [f.status for f in findings] == ["pass"] * len(findings), findings
    assert verdict(findings) == "pass"
    rto = only(findings, "rto_s")
    assert rto.value == pytest.approx(5.01)
    assert rto.reason.startswith("rto_s = 5.01 holds")


def test_slow_recovery_fails_rto_and_availability_claims() -> None:
    findings = failover_findings(
        Invariant(name="rto_s", max=3),
        Invariant(name="write_unavailable_s", max=2),
        Invariant(name="read_availability", min=0.9),
        Invariant(name="lost_acked_writes", max=0),
    )
    assert [f.status for f in findings] == ["fail", "fail", "fail", "pass"]
    assert only(findings, "rto_s").reason == "rto_s = 5.01 > max 3"
    assert only(findings, "read_availability").reason == "read_availability = 0.666667 < min 0.9"
    assert verdict(findings) == "fail"


def test_lost_acked_write_fails_the_run() -> None:
    final_read = failover_final_read()
    damaged = final(final_read.leader_ids - {3})
    findings = failover_findings(*SAFETY_INVARIANTS, final_read=damaged)
    assert only(findings, "lost_acked_writes").status == "fail"
    assert only(findings, "lost_acked_writes").value == 1
    assert verdict(findings) == "fail"


@pytest.mark.parametrize(
    ("name", "final_read"),
    [
        ("unexpected_writes", final(set(range(10)) | {10_000})),
        (
            "duplicate_writes",
            FinalRead(leader="pg-0", leader_ids=frozenset(range(10)), leader_duplicates={4: 2}),
        ),
        ("failed_writes_present", final(set(range(10)) | {100})),  # write 100 at 10 s failed
    ],
)
def test_each_safety_violation_fails(name: str, final_read: FinalRead) -> None:
    history = [op for op in failover_history() if op.op == "write" and op.value in range(200)]
    history = [op for op in history if op.value is not None and (op.value < 10 or op.value == 100)]
    findings = failover_findings(*SAFETY_INVARIANTS, history=history, final_read=final_read)
    assert only(findings, name).status == "fail"
    assert verdict(findings) == "fail"


def test_no_write_after_the_fault_makes_rto_inconclusive() -> None:
    history = steady_writes(0, 20, 0.1, down_between(10, 99))
    findings = failover_findings(
        Invariant(name="rto_s", max=30), history=history, faults=[fault(10, None)],
        final_read=final(range(100)),
    )
    rto = only(findings, "rto_s")
    assert (rto.status, rto.value) == ("inconclusive", None)
    assert rto.reason == "no acknowledged write after the fault"
    assert verdict(findings) == "inconclusive"


def test_availability_claims_without_a_fault_are_inconclusive() -> None:
    findings = failover_findings(
        Invariant(name="rto_s", max=30), Invariant(name="read_availability", min=0.9),
        Invariant(name="write_unavailable_s", max=5), faults=[],
    )
    assert {f.status for f in findings} == {"inconclusive"}
    assert {f.reason for f in findings} == {"no fault window in the history"}


def test_no_acked_write_makes_lost_writes_inconclusive_not_pass() -> None:
    history = [write(1, 0, "fail"), write(2, 1, "info")]
    findings = failover_findings(
        Invariant(name="lost_acked_writes", max=0),
        Invariant(name="lost_acked_writes_on_replicas", max=0),
        history=history, final_read=final(set(), **{"pg-1": set()}),
    )
    assert [f.status for f in findings] == ["inconclusive", "inconclusive"]
    assert "no acknowledged write at all" in findings[0].reason


def test_replica_claim_without_replicas_read_is_inconclusive() -> None:
    findings = failover_findings(
        Invariant(name="lost_acked_writes_on_replicas", max=0),
        final_read=final(failover_final_read().leader_ids),
    )
    assert findings[0].status == "inconclusive"
    assert findings[0].reason == "no replica in the final read"


def test_a_late_generator_makes_timing_claims_inconclusive_but_not_safety() -> None:
    history = [
        op.model_copy(update={"late": op.value is not None and op.value % 5 == 0})  # 10 % late
        for op in failover_history()
    ]
    lost_one = final(failover_final_read().leader_ids - {3})
    timing = [
        Invariant(name="rto_s", max=10),
        Invariant(name="read_availability", min=0.1),
        Invariant(name="latency_during_p99_s", max=1),
    ]
    findings = failover_findings(*timing, history=history)
    assert {f.status for f in findings} == {"inconclusive"}
    assert all("load generator could not keep the offered rate" in f.reason for f in findings)
    assert verdict(findings) == "inconclusive"
    findings = failover_findings(
        *timing, Invariant(name="lost_acked_writes", max=0), history=history, final_read=lost_one
    )
    assert only(findings, "lost_acked_writes").status == "fail"
    assert verdict(findings) == "fail"
    tolerant = CheckPolicy(max_late_fraction=0.1)
    assert {f.status for f in failover_findings(*timing, history=history, policy=tolerant)} == {
        "pass"
    }


def test_too_few_samples_make_a_claim_inconclusive() -> None:
    strict = CheckPolicy(min_ops_in_window=100)
    findings = failover_findings(
        Invariant(name="read_availability", min=0.5),
        Invariant(name="rto_s", max=10),
        Invariant(name="latency_during_p99_s", max=1),
        Invariant(name="latency_before_p99_s", max=1),
        policy=strict,
    )
    assert [f.status for f in findings] == ["inconclusive"] * 3 + ["pass"]
    assert findings[0].reason == "too few samples: reads_in_fault = 60 < 100"
    assert findings[1].reason == "too few samples: writes_in_fault = 61 < 100"
    assert findings[2].reason == "too few samples: latency_during_count = 51 < 100"


def test_lag_claims() -> None:
    unmeasured = failover_findings(Invariant(name="max_replica_lag_bytes", max=1024))
    assert unmeasured[0].status == "inconclusive"
    assert unmeasured[0].reason == "no replica lag sample"
    too_far = failover_findings(
        Invariant(name="max_replica_lag_bytes", max=1024),
        lag=[LagSample(at=11, node="pg-2", lag_bytes=1 << 20)],
    )
    assert too_far[0].status == "fail"


def test_evaluate_defaults_to_the_safety_invariants() -> None:
    metrics = history_metrics(failover_history(), FAILOVER_FAULTS, failover_final_read())
    findings = evaluate(metrics)
    assert [f.name for f in findings] == [i.name for i in SAFETY_INVARIANTS]
    assert verdict(findings) == "pass"


def make_finding(status: str) -> Finding:
    return Finding.model_validate(
        {"name": "rto_s", "value": 1.0, "threshold": {"name": "rto_s", "max": 2},
         "status": status, "reason": "test"}
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["pass", "pass"], "pass"),
        (["pass", "inconclusive"], "inconclusive"),
        (["inconclusive", "fail", "pass"], "fail"),
        (["fail"], "fail"),
        ([], "inconclusive"),
    ],
)
def test_verdict_rules(statuses: list[str], expected: str) -> None:
    assert verdict(make_finding(s) for s in statuses) == expected


def test_lateness_caused_by_the_fault_is_not_generator_saturation() -> None:
    """A stalled system makes an open-model generator late; that is the fault's latency."""
    ops = [write(i, i * 0.1) for i in range(100)]  # 10 s healthy, on time
    ops += [write(1000 + i, 12.0 + i * 0.01, intended=10 + i * 0.1, late=True)
            for i in range(50)]  # backlog of a 2 s stall, all late, all intended in the window
    metrics = history_metrics(ops, [fault(10, 16)], final([o.value for o in ops if o.value]))
    assert metrics.generator.late_fraction == 0
    rto = only(evaluate(metrics, [Invariant(name="rto_s", max=10)]), "rto_s")
    assert rto.status == "pass"


def test_late_outside_the_fault_still_makes_timing_inconclusive() -> None:
    ops = [write(i, i * 0.1 + 0.2, intended=i * 0.1, late=True) for i in range(100)]
    ops += [write(1000 + i, 12.0 + i * 0.1) for i in range(20)]
    metrics = history_metrics(ops, [fault(10, 16)], final([o.value for o in ops if o.value]))
    rto = only(evaluate(metrics, [Invariant(name="rto_s", max=10)]), "rto_s")
    assert rto.status == "inconclusive"
    assert "load generator" in rto.reason
