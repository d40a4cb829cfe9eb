"""The event bus without servers: timestamp parsing, the factory's choice, ack classes."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError

from gracectl.bus import Event, format_ms, open_bus, parse_timestamp_ms
from gracectl.bus.factory import bus_kind, parse_endpoints
from gracectl.bus.kafka_bus import KafkaBus, ack_status
from gracectl.bus.redis_streams import RedisStreamsBus
from gracectl.config import load_settings
from gracectl.errors import ConfigError, StackNotRunning
from tests.conftest import Sandbox

pytestmark = pytest.mark.unit

REDIS_ENV = {
    "GRACE_REDIS_SENTINELS": "127.0.0.1:30013,127.0.0.1:30014",
    "GRACE_REDIS_MASTER_NAME": "grace",
    "GRACE_REDIS_PASSWORD": "secret",
}
KAFKA_ENV = {**REDIS_ENV, "GRACE_KAFKA_BOOTSTRAP": "127.0.0.1:30020,127.0.0.1:30022"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1764235800000", 1_764_235_800_000),
        (" 1764235800123 ", 1_764_235_800_123),
        ("2025-11-27T09:30:00Z", 1_764_235_800_000),
        ("2025-11-27T09:30:00", 1_764_235_800_000),  # no zone: UTC
        ("2025-11-27T10:30:00+01:00", 1_764_235_800_000),
        ("2025-11-27T09:30:00.123Z", 1_764_235_800_123),
        ("2025-11-27 09:30:00Z", 1_764_235_800_000),
    ],
)
def test_timestamps_parse(text: str, expected: int) -> None:
    assert parse_timestamp_ms(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("1764235800", "looks like Unix seconds"),
        ("yesterday", "not a point in time"),
        ("", "not a point in time"),
        ("-5", "not a point in time"),
        ("2025-13-01T00:00:00Z", "not a point in time"),
    ],
)
def test_bad_timestamps_are_config_errors(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_timestamp_ms(text, "--from")
    assert needle in caught.value.message
    assert "--from" in caught.value.message
    assert "ISO-8601" in caught.value.hint
    assert caught.value.exit_code == 2


def test_format_round_trips() -> None:
    assert format_ms(1_764_235_800_123) == "2025-11-27T09:30:00.123Z"
    assert parse_timestamp_ms(format_ms(1_764_235_800_007)) == 1_764_235_800_007


def test_factory_chooses_by_bus_kind() -> None:
    assert bus_kind(REDIS_ENV) == "redis-streams"
    assert bus_kind(KAFKA_ENV) == "kafka"
    assert bus_kind({**KAFKA_ENV, "GRACECTL_BUS": "redis-streams"}) == "redis-streams"
    assert bus_kind({**REDIS_ENV, "GRACE_BUS": "kafka"}) == "kafka"
    with pytest.raises(ConfigError, match="unknown bus"):
        bus_kind({"GRACE_BUS": "rabbitmq"})

    with open_bus(KAFKA_ENV, topic="t1") as kafka:  # no connection until first use
        assert isinstance(kafka, KafkaBus)
        assert kafka.bootstrap == KAFKA_ENV["GRACE_KAFKA_BOOTSTRAP"]
        assert kafka.topic == "t1"
        assert kafka.replication_factor is None  # the brokers' default
    with open_bus(REDIS_ENV) as redis_bus:
        assert isinstance(redis_bus, RedisStreamsBus)
        assert redis_bus.master_name == "grace"


def test_factory_reports_missing_and_bad_variables() -> None:
    with pytest.raises(ConfigError, match="GRACE_KAFKA_BOOTSTRAP is not set") as caught:
        open_bus({"GRACE_BUS": "kafka"})
    assert "gracectl env" in caught.value.hint
    with pytest.raises(ConfigError, match="GRACE_REDIS_SENTINELS is not set"):
        open_bus({})
    with pytest.raises(ConfigError, match="bad endpoint"):
        open_bus({**REDIS_ENV, "GRACE_REDIS_SENTINELS": "127.0.0.1"})
    assert parse_endpoints("h:1, h:2") == [("h", 1), ("h", 2)]


def test_factory_from_settings_needs_a_stack(sandbox: Sandbox) -> None:
    settings = load_settings("dev", cwd=Path(sandbox.cwd), environ=sandbox.env())
    with pytest.raises(StackNotRunning):
        open_bus(settings)


def test_kafka_errors_after_sending_are_indeterminate() -> None:
    assert ack_status(KafkaError(KafkaError.NOT_ENOUGH_REPLICAS)) == "fail"
    assert ack_status(KafkaError(KafkaError._PURGE_QUEUE)) == "fail"
    assert ack_status(KafkaError(KafkaError._MSG_TIMED_OUT)) == "indeterminate"
    assert ack_status(KafkaError(KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND)) == "indeterminate"
    assert ack_status(KafkaError(KafkaError._TRANSPORT)) == "indeterminate"


def test_event_json_line() -> None:
    event = Event("t", 1, "5", 1_764_235_800_000, "k", 'v "q"')
    assert event.to_json() == (
        '{"topic":"t","partition":1,"offset":"5","timestamp_ms":1764235800000,'
        '"key":"k","value":"v \\"q\\""}'
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--from", "yesterday"),
        ("--from", "1764235800"),
        ("--from", "2025-11-27T10:00:00Z", "--to", "2025-11-27T09:00:00Z"),
    ],
)
def test_replay_cli_bad_timestamps_exit_2(sandbox: Sandbox, args: tuple[str, ...]) -> None:
    result = sandbox.run("replay", *args)
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), result.stderr
