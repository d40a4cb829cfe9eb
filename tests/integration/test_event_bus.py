"""The event-bus client on a real dev stack, once per bus kind: create a topic, produce
sequence-numbered events with acks, read them all back in per-partition order, replay from a
timestamp in the middle, share them out in a consumer group of two, and `gracectl replay`."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict

import pytest

from gracectl.bus import Event, EventBus, format_ms, open_bus
from gracectl.config import load_settings
from tests.conftest import CliResult, Sandbox

pytestmark = pytest.mark.integration

TOPIC = "bus-events"
PARTITIONS = 3
EVENTS = 200
KAFKA_ENV = {"GRACECTL_BUS": "kafka", "GRACECTL_KAFKA__BROKERS": "3"}


def expect_ok(result: CliResult, sandbox: Sandbox) -> None:
    if result.code == 0:
        return
    tails = []
    for log in sorted((sandbox.home / "log").glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        tails.append(f"--- {log.name}\n" + "\n".join(lines[-8:]))
    pytest.fail(f"exit {result.code}\n{result.stderr}\n" + "\n".join(tails), pytrace=False)


def seq(event: Event) -> int:
    return int(event.value.removeprefix("event-"))


def produce_all(bus: EventBus) -> list[tuple[int, str, int]]:
    """(partition, offset, timestamp) of each acknowledged event, by sequence number."""
    acked = []
    for i in range(EVENTS):
        ack = bus.produce(f"key-{i}", f"event-{i:04d}")
        assert ack.status == "ok", (i, ack)
        assert ack.partition is not None and ack.offset is not None and ack.timestamp_ms
        acked.append((ack.partition, ack.offset, ack.timestamp_ms))
    return acked


def check_read_all(bus: EventBus, acked: list[tuple[int, str, int]]) -> list[Event]:
    events = list(bus.read_all())
    assert sorted(seq(e) for e in events) == list(range(EVENTS))
    assert {(e.partition, e.offset, e.timestamp_ms) for e in events} == set(acked)
    assert [e.partition for e in events] == sorted(e.partition for e in events)
    for partition in range(PARTITIONS):
        in_log = [seq(e) for e in events if e.partition == partition]
        assert in_log == sorted(in_log), f"partition {partition} out of order"
    assert len({e.partition for e in events}) == PARTITIONS  # keys spread over all of them
    return events


def consume_in_group(bus: EventBus) -> tuple[Counter[int], Counter[str]]:
    delivered: Counter[int] = Counter()
    per_consumer: Counter[str] = Counter()
    deadline = time.monotonic() + 60
    while sum(delivered.values()) < EVENTS and time.monotonic() < deadline:
        for consumer in ("c1", "c2"):
            got = bus.consume("bus-test", consumer, max_events=10, timeout_s=0.5)
            assert len(got) <= 10
            delivered.update(seq(e) for e in got)
            per_consumer[consumer] += len(got)
    # Nothing more: every event went to one consumer, once.
    assert bus.consume("bus-test", "c1", timeout_s=0.5) == []
    assert sum(per_consumer.values()) == EVENTS, per_consumer
    return delivered, per_consumer


def exercise(sandbox: Sandbox, **env: str) -> None:
    started = time.monotonic()
    expect_ok(sandbox.run("up", "--profile", "dev", timeout=300, **env), sandbox)
    up_s = time.monotonic() - started
    settings = load_settings(cwd=sandbox.cwd, environ=sandbox.env(**env))
    with open_bus(settings, topic=TOPIC) as bus:
        assert bus.kind == settings.bus
        bus.create_topic(TOPIC, PARTITIONS)
        bus.create_topic(TOPIC, PARTITIONS)  # again: a no-op
        acked = produce_all(bus)
        events = check_read_all(bus, acked)

        middle = sorted(ts for _, _, ts in acked)[EVENTS // 2]
        replayed = list(bus.replay(middle))
        assert replayed == [e for e in events if e.timestamp_ms >= middle]
        assert 0 < len(replayed) < EVENTS
        assert list(bus.replay(middle, middle + 1)) == [
            e for e in events if e.timestamp_ms == middle
        ]

        delivered, per_consumer = consume_in_group(bus)
        assert sorted(delivered) == list(range(EVENTS))
        assert set(delivered.values()) == {1}
        if bus.kind == "redis-streams":
            # Kafka shares only after a rebalance (about a second or more): not asserted.
            assert min(per_consumer.values()) > 0, per_consumer

    # The same events through the connection environment and through the CLI.
    env_result = sandbox.run("env", "--json", **env)
    assert env_result.code == 0, env_result
    with open_bus(json.loads(env_result.stdout), topic=TOPIC) as by_env:
        assert list(by_env.replay(middle)) == replayed
    for start in (str(middle), format_ms(middle)):
        cli = sandbox.run("replay", "--from", start, "--topic", TOPIC, "--json", **env)
        assert cli.code == 0, cli
        assert [json.loads(line) for line in cli.stdout.splitlines()] == [
            asdict(e) for e in replayed
        ]
    checks_s = time.monotonic() - started - up_s
    print(f"{settings.bus}: up {up_s:.1f} s, checks {checks_s:.1f} s, group {dict(per_consumer)}")


def test_kafka_event_bus(sandbox: Sandbox) -> None:
    exercise(sandbox, **KAFKA_ENV)


def test_redis_streams_event_bus(sandbox: Sandbox) -> None:
    exercise(sandbox, GRACECTL_BUS="redis-streams")
