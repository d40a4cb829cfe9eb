"""The dev stack with the Kafka bus for real: three KRaft nodes, one active controller, an
acks=all round trip on a replication-factor-3 topic, and the records kept across down + up."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer
from confluent_kafka import TopicPartition as Partition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from gracectl.config import load_settings
from gracectl.teardown import stack_processes
from gracectl.topology import plan, port_is_free
from gracectl.waiting import wait_until
from tests.conftest import CliResult, Sandbox

pytestmark = pytest.mark.integration

TOPIC = "grace-events"
PARTITIONS = 3
RECORDS = 200


KAFKA_ENV = {"GRACECTL_BUS": "kafka", "GRACECTL_KAFKA__BROKERS": "3"}


def run(sandbox: Sandbox, *args: str, timeout: float = 120) -> CliResult:
    return sandbox.run(*args, timeout=timeout, GRACECTL_BUS="kafka", GRACECTL_KAFKA__BROKERS="3")


def wait_ports_free(sandbox: Sandbox) -> None:
    """The test ports lie in the kernel's ephemeral range: an outgoing connection that used
    one of them (ours or another process's) holds it in TIME_WAIT for up to a minute."""
    env = sandbox.env(**KAFKA_ENV)
    ports = [p for _, _, p in plan(load_settings("dev", environ=env)).all_ports()]
    assert wait_until(lambda: all(port_is_free(p) for p in ports), 90), ports


def expect_ok(result: CliResult, sandbox: Sandbox) -> None:
    """On failure, show gracectl's whole message and what the Kafka nodes last logged."""
    if result.code == 0:
        return
    tails = []
    for log in sorted((sandbox.home / "log").glob("kafka-*.log")):
        lines = log.read_text(errors="replace").splitlines()
        tails.append(f"--- {log.name}\n" + "\n".join(lines[-12:]))
    pytest.fail(f"exit {result.code}\n{result.stderr}\n" + "\n".join(tails), pytrace=False)


def status_json(sandbox: Sandbox) -> dict[str, Any]:
    result = run(sandbox, "status", "--json")
    assert result.code == 0, result
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def bootstrap_of(sandbox: Sandbox) -> str:
    result = run(sandbox, "env", "--json")
    assert result.code == 0, result
    return str(json.loads(result.stdout)["GRACE_KAFKA_BOOTSTRAP"])


def create_topic(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=3)], operation_timeout=30
    )
    futures[TOPIC].result(timeout=60)
    described = admin.list_topics(TOPIC, timeout=10).topics[TOPIC]
    assert all(len(p.replicas) == 3 for p in described.partitions.values())


def produce_all(bootstrap: str) -> set[bytes]:
    acked: set[bytes] = set()
    failures: list[KafkaError] = []

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(err)
        else:
            acked.add(msg.value() or b"")

    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True}
    )
    for i in range(RECORDS):
        producer.produce(TOPIC, key=str(i).encode(), value=f"event-{i}".encode(),
                         on_delivery=delivered)
    assert producer.flush(60) == 0
    assert not failures, failures
    return acked


def read_all(bootstrap: str, want: int, timeout_s: float = 60) -> set[bytes]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "kafka-bus-test", "enable.auto.commit": False}
    )
    consumer.assign([Partition(TOPIC, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    seen: set[bytes] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < want and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                seen.add(msg.value() or b"")
    finally:
        consumer.close()
    return seen


def test_kafka_bus_lifecycle(sandbox: Sandbox) -> None:
    expect_ok(run(sandbox, "up", "--profile", "dev", timeout=420), sandbox)

    status = status_json(sandbox)
    assert status["bus"] == "kafka"
    brokers = [c for c in status["components"] if c["kind"] == "kafka"]
    assert len(brokers) == 3, brokers
    assert all(b["state"] == "running" and b["pid"] for b in brokers), brokers
    assert sorted(b["role"] for b in brokers) == ["broker", "broker", "controller"]
    bootstrap = bootstrap_of(sandbox)
    assert bootstrap == status["endpoints"]["kafka_bootstrap"]
    assert bootstrap.count("127.0.0.1:") == 3

    create_topic(bootstrap)
    acked = produce_all(bootstrap)
    assert len(acked) == RECORDS
    assert read_all(bootstrap, RECORDS) == acked

    expect_ok(run(sandbox, "down", timeout=240), sandbox)
    assert stack_processes(sandbox.home) == []
    wait_ports_free(sandbox)

    expect_ok(run(sandbox, "up", "--profile", "dev", timeout=420), sandbox)
    assert read_all(bootstrap, RECORDS) == acked
