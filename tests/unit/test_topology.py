from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gracectl.config import load_settings
from gracectl.errors import EnvironmentProblem
from gracectl.layout import Layout
from gracectl.topology import check_ports_free, plan, port_is_free

pytestmark = pytest.mark.unit


def test_ha_plan_has_every_node_and_unique_ports(tmp_path: Path) -> None:
    topo = plan(load_settings(cwd=tmp_path, environ={}))
    kinds = [n.kind for n in topo.nodes]
    assert kinds.count("etcd") == 3
    assert kinds.count("postgres") == 4
    assert kinds.count("haproxy") == 1
    assert kinds.count("redis") == 3
    assert kinds.count("sentinel") == 3
    ports = [p for _, _, p in topo.all_ports()]
    assert len(ports) == len(set(ports))
    assert min(ports) == 17000
    assert max(ports) == 17000 + len(ports) - 1


def test_plan_is_deterministic_and_follows_base_port(tmp_path: Path) -> None:
    env = {"GRACECTL_BASE_PORT": "25000"}
    a = plan(load_settings("dev", cwd=tmp_path, environ=env))
    b = plan(load_settings("dev", cwd=tmp_path, environ=env))
    assert a == b
    assert a.node("etcd-0").ports == {"client": 25000, "peer": 25001}
    assert a.node("pg-0").ports == {"postgres": 25002, "patroni": 25003}


def test_taken_port_is_reported_with_node_and_hint(tmp_path: Path) -> None:
    # A base whose third port nobody holds (benches and other runs use fixed ranges).
    base = next(b for b in range(30000, 32000, 50) if port_is_free(b + 2))
    topo = plan(load_settings("dev", cwd=tmp_path, environ={"GRACECTL_BASE_PORT": str(base)}))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", base + 2))
        holder.listen()
        assert not port_is_free(base + 2)
        with pytest.raises(EnvironmentProblem, match=rf"port {base + 2} \(pg-0 postgres\)") as info:
            check_ports_free(topo)
        assert "base_port" in info.value.hint
        check_ports_free(topo, skip_nodes={"pg-0"})


def test_long_home_gets_a_short_socket_path() -> None:
    short = Layout(Path("/tmp/x"))
    assert short.supervisor_socket == Path("/tmp/x/run/supervisor.sock")
    deep = Layout(Path("/tmp/" + "d" * 120))
    assert len(str(deep.supervisor_socket)) < 100
    assert deep.supervisor_socket != Layout(Path("/tmp/" + "e" * 120)).supervisor_socket
