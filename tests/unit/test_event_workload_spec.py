"""The event workload's spec, its subprocess command and environment, its open-model producer
schedule (on a fake bus), and reading events back into an EventRead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from pydantic import ValidationError

from gracectl.bus import Ack, Event, EventBus
from gracectl.errors import GracectlError
from gracectl.event_workload import EventWorkload, EventWorkloadSpec, stored_event_read
from gracectl.event_workload_read import EventPayload, parse_payload, partition_label
from gracectl.event_workload_run import StartLine, produce_schedule
from gracectl.history import EventOp, HistoryWriter, read_event_history

pytestmark = pytest.mark.unit

REDIS_ENV = {
    "GRACE_REDIS_SENTINELS": "127.0.0.1:1",
    "GRACE_REDIS_MASTER_NAME": "grace",
    "GRACE_REDIS_PASSWORD": "secret",
    "GRACE_PG_RW_DSN": "postgresql://u:p@127.0.0.1:1/db",
}


def test_spec_defaults_and_derived_numbers() -> None:
    spec = EventWorkloadSpec(producers=4, produce_rate=100, duration_s=10)
    assert spec.rate_per_producer == 25
    assert spec.expected_events == 1000
    assert spec.run_bound_s > spec.duration_s + spec.drain_s
    # A share that does not divide the duration rounds up per producer.
    assert EventWorkloadSpec(producers=3, produce_rate=10, duration_s=1).expected_events == 12


@pytest.mark.parametrize(
    "bad",
    [
        {"producers": 0},
        {"produce_rate": 0},
        {"consumers": -1},
        {"partitions": 0},
        {"keys": 0},
        {"duration_s": 0},
        {"topic": "bad topic"},
        {"group": ""},
        {"unknown": 1},
        {"drain_s": 2, "claim_idle_s": 3},  # a dead consumer's events would never move
    ],
)
def test_spec_rejects(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EventWorkloadSpec.model_validate(bad)


def test_spec_is_frozen_and_round_trips() -> None:
    spec = EventWorkloadSpec(consumers=0, drain_s=0, consumer_processes=False)
    with pytest.raises(ValidationError):
        spec.producers = 3  # type: ignore[misc]
    assert EventWorkloadSpec.model_validate_json(spec.model_dump_json()) == spec


def test_command_and_environment_pass_only_the_bus_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRACECTL_HOME", "/elsewhere")
    workload = EventWorkload(EventWorkloadSpec(), REDIS_ENV, tmp_path)
    cmd = workload.command()
    assert cmd[1:3] == ["-m", "gracectl.event_workload"]
    assert cmd[cmd.index("--run-dir") + 1] == str(tmp_path)
    env = workload.environment()
    assert env["GRACE_REDIS_PASSWORD"] == "secret"
    assert "GRACE_PG_RW_DSN" not in env and "GRACECTL_HOME" not in env
    assert workload.consumer_pids() == [] and workload.records() == ()
    with pytest.raises(GracectlError):
        EventWorkload(EventWorkloadSpec(), {"GRACE_PG_RW_DSN": "x"}, tmp_path)
    with pytest.raises(GracectlError):
        workload.wait()  # not started


class FakeBus(EventBus):
    """Acknowledges every produce after `delay_s`, in one partition per key's last digit."""

    kind = "fake"

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__("t")
        self.delay_s = delay_s
        self.sent: list[tuple[str, str]] = []

    def produce(
        self,
        key: str,
        value: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        timeout_s: float | None = None,
    ) -> Ack:
        time.sleep(self.delay_s)
        self.sent.append((key, value))
        return Ack("ok", partition=int(key[-1]) % 2, offset=str(len(self.sent)), timestamp_ms=1)

    def create_topic(self, name: str, partitions: int) -> None: ...
    def partitions(self, topic: str | None = None) -> int:
        return 2

    def consume(self, group: str, consumer: str, **_: object) -> list[Event]:
        return []

    def replay(
        self, from_ms: int, to_ms: int | None = None, *, topic: str | None = None
    ) -> Iterator[Event]:
        return iter(())

    def read_all(self, topic: str | None = None) -> Iterator[Event]:
        return iter(())

    def close(self) -> None: ...


def run_producer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec: EventWorkloadSpec, bus: FakeBus
) -> list[EventOp]:
    monkeypatch.setattr("gracectl.event_workload_run.open_topic_bus", lambda _: bus)
    out = HistoryWriter(tmp_path / "producer-0.jsonl")
    produce_schedule(spec, 0, StartLine(1, timeout_s=1), out, threading.Event())
    out.close()
    return list(read_event_history(tmp_path / "producer-0.jsonl"))


def test_producer_follows_its_schedule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = EventWorkloadSpec(producers=2, produce_rate=100, duration_s=0.5, keys=3, topic="t")
    ops = run_producer(monkeypatch, tmp_path, spec, FakeBus())
    assert [op.seq for op in ops] == list(range(25))
    assert all(op.outcome == "ok" and op.worker == "producer-0" for op in ops)
    assert {op.key for op in ops} <= {"k0", "k1", "k2"}
    assert all(op.partition in {"t/0", "t/1"} and op.offset for op in ops)
    intervals = {round(b.intended - a.intended, 6) for a, b in pairwise(ops)}
    assert intervals == {0.02}
    assert sum(op.late for op in ops) <= 2


def test_slow_bus_makes_late_ops_never_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each produce takes twice the interval: every op is still sent or recorded, the backlog
    beyond op_timeout past the end as `fail`, and latency counts from the planned time."""
    spec = EventWorkloadSpec(producers=1, produce_rate=50, duration_s=0.4, op_timeout_s=0.2)
    ops = run_producer(monkeypatch, tmp_path, spec, FakeBus(delay_s=0.04))
    assert [op.seq for op in ops] == list(range(20))
    assert sum(op.late for op in ops) >= 15
    unsent = [op for op in ops if op.outcome == "fail"]
    assert unsent and all("not sent" in (op.error or "") for op in unsent)
    assert max(op.latency_s for op in ops if op.outcome == "ok") > 0.2


def test_stored_event_read_parses_payloads_and_skips_foreign_values() -> None:
    payload = EventPayload(producer="producer-1", seq=7, key="k2")
    assert parse_payload(payload.to_json()) == payload
    assert parse_payload("event-0001") is None and parse_payload('{"seq": 1}') is None
    events = [
        Event("t", 1, "5-0", 5, "k2", payload.to_json()),
        Event("t", 1, "6-0", 6, "x", "not ours"),
    ]
    read = stored_event_read(events, [partition_label("t", p) for p in range(3)])
    assert set(read.partitions) == {"t/0", "t/1", "t/2"}
    assert read.partitions["t/0"] == ()
    (stored,) = read.partitions["t/1"]
    assert (stored.event_id, stored.key, stored.offset, stored.timestamp_ms) == (
        ("producer-1", 7),
        "k2",
        "5-0",
        5,
    )
