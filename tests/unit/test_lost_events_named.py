"""An event run that loses acknowledged events names them in its journal and `--json` result,
and the redis-async-loss scenario that makes such a loss happen is well formed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracectl.checks.events import event_id_label
from gracectl.errors import ConfigError
from gracectl.evaluate import evaluate_events
from gracectl.faults.actions import REGISTRY
from gracectl.history import EventOp, EventRead, HistoryWriter, StoredEvent
from gracectl.journal import Journal, read_journal
from gracectl.scenario import TIMED_FAULTS, bundled_dir, load_scenario, parse_scenario

pytestmark = pytest.mark.unit

PARTITION = "events/0"


def produce(producer: str, seq: int, outcome: str = "ok") -> EventOp:
    return EventOp.model_validate({
        "worker": producer, "op": "produce", "key": "k0", "seq": seq, "partition": PARTITION,
        "offset": f"1732700000000-{seq}" if outcome == "ok" else None,
        "intended": 100.0 + seq, "start": 100.0 + seq, "end": 100.01 + seq, "outcome": outcome,
    })  # fmt: skip


def stored(producer: str, seq: int) -> StoredEvent:
    return StoredEvent(key="k0", seq=seq, producer=producer, offset=f"1732700000000-{seq}")


def run_and_judge(tmp_path: Path, ops: list[EventOp], final: EventRead) -> Journal:
    history = tmp_path / "history"
    history.mkdir()
    writer = HistoryWriter(history / "producer.jsonl")
    for op in ops:
        writer.append(op)
    writer.close()
    scenario = load_scenario(bundled_dir() / "redis-async-loss.yaml")
    journal = Journal(scenario=scenario.model_dump(mode="json"), start=0.0, profile="dev",
                      replication_mode="synchronous", bus="redis-streams")
    evaluate_events(journal, scenario, history, [], final, {}, "events", None)
    return journal


def test_event_id_label() -> None:
    assert event_id_label(("producer-0", 41)) == "producer-0:41"


def test_lost_acked_events_are_named_in_order(tmp_path: Path) -> None:
    ops = [produce("producer-1", 0), produce("producer-0", 10), produce("producer-0", 9),
           produce("producer-0", 2), produce("producer-0", 3, outcome="info")]
    final = EventRead(partitions={PARTITION: (stored("producer-0", 2),)})
    journal = run_and_judge(tmp_path, ops, final)
    assert journal.metrics["lost_acked_events"] == 3
    # Sorted by producer, then seq as a number (9 before 10); the indeterminate one is no loss.
    assert journal.lost_acked_events_sample == ["producer-0:9", "producer-0:10", "producer-1:0"]
    assert journal.verdict == "fail"
    assert journal.result()["lost_acked_events_sample"] == journal.lost_acked_events_sample
    journal.write(tmp_path / "journal.json")
    assert read_journal(tmp_path / "journal.json").lost_acked_events_sample == (
        journal.lost_acked_events_sample
    )


def test_no_loss_names_nothing(tmp_path: Path) -> None:
    final = EventRead(partitions={PARTITION: (stored("producer-0", 0),)})
    journal = run_and_judge(tmp_path, [produce("producer-0", 0)], final)
    assert journal.lost_acked_events_sample == []
    assert journal.verdict == "pass"


def test_the_sample_is_capped_at_1000(tmp_path: Path) -> None:
    ops = [produce("producer-0", seq) for seq in range(1200)]
    journal = run_and_judge(tmp_path, ops, EventRead(partitions={PARTITION: ()}))
    assert journal.metrics["lost_acked_events"] == 1200
    assert len(journal.lost_acked_events_sample) == 1000
    assert journal.lost_acked_events_sample[-1] == "producer-0:999"


def test_redis_async_loss_scenario_holds_back_then_kills() -> None:
    scenario = load_scenario(bundled_dir() / "redis-async-loss.yaml")
    assert scenario.bus == "redis-streams" and scenario.events is not None
    pause, kill = scenario.faults
    assert pause.fault == "redis.pause_replication" and pause.fault in REGISTRY
    assert kill.fault == "node.kill" and kill.target == "redis:master"
    # The kill lands while the replicas are held back; they resume only after it.
    assert pause.duration_s is not None
    assert pause.at_s < kill.at_s < pause.at_s + pause.duration_s
    assert "lost_acked_events" in {i.name for i in scenario.invariants}


def test_redis_pause_replication_needs_a_duration() -> None:
    assert "redis.pause_replication" in TIMED_FAULTS
    body = {"name": "x", "events": {}, "faults": [{"fault": "redis.pause_replication", "at_s": 1}]}
    with pytest.raises(ConfigError, match="needs duration_s"):
        parse_scenario(body, "x.yaml")
