"""Kafka settings, server.properties rendering, the port plan with bus=kafka, and the pieces
of the cluster snapshot that need no broker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gracectl.components.kafka import (
    KAFKA_VERSION,
    jvm_command,
    new_cluster_id,
    render_properties,
)
from gracectl.components.kafka_snapshot import QuorumView, active_controller, read_quorum_view
from gracectl.config import KafkaConfig, load_settings
from gracectl.errors import ConfigError
from gracectl.topology import plan

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def _props(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return dict(pairs)


def test_kafka_nodes_only_with_the_kafka_bus(tmp_path: Path) -> None:
    streams = plan(load_settings("dev", cwd=tmp_path, environ={}))
    assert streams.of_kind("kafka") == []
    kafka = plan(load_settings("dev", cwd=tmp_path, environ={"GRACECTL_BUS": "kafka"}))
    assert [n.name for n in kafka.of_kind("kafka")] == ["kafka-0", "kafka-1", "kafka-2"]


@pytest.mark.parametrize("profile", ["dev", "ha"])
def test_kafka_ports_come_after_every_other_port(profile: str, tmp_path: Path) -> None:
    env = {"GRACECTL_BASE_PORT": "30000"}
    before = plan(load_settings(profile, cwd=tmp_path, environ=env))
    after = plan(load_settings(profile, cwd=tmp_path, environ={**env, "GRACECTL_BUS": "kafka"}))
    assert after.nodes[: len(before.nodes)] == before.nodes
    last = max(p for _, _, p in before.all_ports())
    kafka_ports = [p for n in after.of_kind("kafka") for p in n.ports.values()]
    assert kafka_ports == list(range(last + 1, last + 1 + 6))
    ports = [p for _, _, p in after.all_ports()]
    assert len(ports) == len(set(ports))


def test_broker_count_from_the_environment(tmp_path: Path) -> None:
    env = {"GRACECTL_BUS": "kafka", "GRACECTL_KAFKA__BROKERS": "5"}
    settings = load_settings("dev", cwd=tmp_path, environ=env)
    assert settings.kafka.brokers == 5
    assert settings.kafka.replication_factor == 3
    assert len(plan(settings).of_kind("kafka")) == 5


def test_min_isr_above_replication_factor_is_a_config_error(tmp_path: Path) -> None:
    assert KafkaConfig(brokers=1, min_insync_replicas=1).replication_factor == 1
    with pytest.raises(ConfigError, match="min_insync_replicas"):
        load_settings("dev", cwd=tmp_path, environ={"GRACECTL_KAFKA__BROKERS": "1"})


def test_rendered_properties_are_kraft_combined_on_loopback(tmp_path: Path) -> None:
    settings = load_settings("dev", cwd=tmp_path, environ={"GRACECTL_BUS": "kafka"})
    voters = plan(settings).of_kind("kafka")
    node = voters[1]
    props = _props(render_properties(settings.kafka, voters, node, tmp_path / "logs"))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == ",".join(
        f"{i}@127.0.0.1:{v.ports['controller']}" for i, v in enumerate(voters)
    )
    assert props["listeners"] == (
        f"PLAINTEXT://127.0.0.1:{node.ports['kafka']},"
        f"CONTROLLER://127.0.0.1:{node.ports['controller']}"
    )
    assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{node.ports['kafka']}"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "logs")
    assert props["min.insync.replicas"] == "2"
    assert props["unclean.leader.election.enable"] == "false"
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
    ):
        assert props[key] == "3", key
    assert props["transaction.state.log.min.isr"] == "2"
    # Nothing listens beyond loopback.
    hosts = re.findall(r"//([^:]+):", props["listeners"] + props["advertised.listeners"])
    assert set(hosts) == {"127.0.0.1"}


def test_single_broker_lowers_internal_replication(tmp_path: Path) -> None:
    env = {"GRACECTL_BUS": "kafka", "GRACECTL_KAFKA__BROKERS": "1"}
    env["GRACECTL_KAFKA__MIN_INSYNC_REPLICAS"] = "1"
    settings = load_settings("dev", cwd=tmp_path, environ=env)
    voters = plan(settings).of_kind("kafka")
    props = _props(render_properties(settings.kafka, voters, voters[0], tmp_path))
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["share.coordinator.state.topic.min.isr"] == "1"
    assert props["controller.quorum.voters"].count("@") == 1


def test_jvm_command_uses_heap_libs_and_our_log4j(tmp_path: Path) -> None:
    cfg = KafkaConfig(heap_mb=300, libs_dir=tmp_path / "libs")
    argv = jvm_command(cfg, tmp_path / "log4j2.properties", "kafka.Kafka")
    assert argv[0] == "java"
    assert {"-Xms300m", "-Xmx300m"} <= set(argv)
    assert f"-Dlog4j2.configurationFile={tmp_path / 'log4j2.properties'}" in argv
    assert argv[argv.index("-cp") + 1] == f"{tmp_path / 'libs'}/*"
    assert argv[-1] == "kafka.Kafka"


def test_cluster_id_looks_like_kafkas() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) and not i.startswith("-") for i in ids)


def test_pom_pins_the_version_the_code_expects() -> None:
    pom = (REPO / "scripts" / "kafka" / "pom.xml").read_text()
    assert f"<kafka.version>{KAFKA_VERSION}</kafka.version>" in pom


def test_active_controller_is_the_newest_live_view(tmp_path: Path) -> None:
    state = tmp_path / "quorum-state"
    state.write_text('{"clusterId":"","leaderId":2,"leaderEpoch":4,"votedId":-1}')
    assert read_quorum_view(state) == QuorumView(2, 4)
    state.write_text('{"leaderId":-1,"leaderEpoch":5,"votedId":1}')
    assert read_quorum_view(state) == QuorumView(None, 5)
    state.write_text("not json")
    assert read_quorum_view(state) is None
    assert read_quorum_view(tmp_path / "missing") is None

    stale, fresh = QuorumView(0, 3), QuorumView(1, 4)
    assert active_controller([stale, fresh], alive={0, 1, 2}) == 1
    # The newest view names a leader that is gone: no active controller.
    assert active_controller([stale, fresh], alive={0, 2}) is None
    # A follower probing for an election does not hide the leader of its epoch.
    assert active_controller([QuorumView(None, 4), fresh], alive={0, 1}) == 1
    # Mid-election: the newest epoch has no leader yet.
    assert active_controller([stale, QuorumView(None, 5)], alive={0, 1}) is None
    assert active_controller([], alive={0}) is None
