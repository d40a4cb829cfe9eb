"""What nodes a configuration has and which loopback ports each one listens on.

Ports are handed out in a fixed order from `base_port`, so the same settings always give
the same plan; every port is checked free before anything starts.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gracectl.config import Settings
from gracectl.errors import EnvironmentProblem

HOST = "127.0.0.1"
NodeKind = Literal["etcd", "postgres", "haproxy", "redis", "sentinel", "kafka"]


@dataclass(frozen=True)
class Node:
    name: str
    kind: NodeKind
    ports: dict[str, int] = field(default_factory=dict)

    def endpoint(self, port_name: str) -> str:
        return f"{HOST}:{self.ports[port_name]}"


@dataclass(frozen=True)
class Topology:
    nodes: tuple[Node, ...]

    def of_kind(self, kind: NodeKind) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def all_ports(self) -> list[tuple[Node, str, int]]:
        return [(n, purpose, port) for n in self.nodes for purpose, port in n.ports.items()]


class _PortAllocator:
    def __init__(self, base: int) -> None:
        self._next = base

    def take(self) -> int:
        port = self._next
        if port > 65535:
            raise EnvironmentProblem(
                f"port plan runs past 65535 (at {port})", hint="lower base_port"
            )
        self._next += 1
        return port


def plan(settings: Settings) -> Topology:
    ports = _PortAllocator(settings.base_port)
    nodes: list[Node] = []
    for i in range(settings.etcd.members):
        nodes.append(Node(f"etcd-{i}", "etcd", {"client": ports.take(), "peer": ports.take()}))
    for i in range(1 + settings.postgres.replicas):
        nodes.append(
            Node(f"pg-{i}", "postgres", {"postgres": ports.take(), "patroni": ports.take()})
        )
    nodes.append(
        Node("haproxy", "haproxy", {"rw": ports.take(), "ro": ports.take(), "stats": ports.take()})
    )
    for i in range(1 + settings.redis.replicas):
        nodes.append(Node(f"redis-{i}", "redis", {"redis": ports.take()}))
    for i in range(settings.redis.sentinels):
        nodes.append(Node(f"sentinel-{i}", "sentinel", {"sentinel": ports.take()}))
    # Optional kinds come last so that enabling one never moves the ports of the others.
    if settings.bus == "kafka":
        for i in range(settings.kafka.brokers):
            nodes.append(
                Node(f"kafka-{i}", "kafka", {"kafka": ports.take(), "controller": ports.take()})
            )
    return Topology(tuple(nodes))


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def ephemeral_port_range() -> tuple[int, int] | None:
    """Linux's range for outgoing connections' local ports (None where unknown)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return None


def ephemeral_overlap(topology: Topology) -> list[int]:
    """Planned ports inside the ephemeral range: any outgoing connection (even the stack's
    own) may take one of them before its server binds it."""
    span = ephemeral_port_range()
    if span is None:
        return []
    return [p for _, _, p in topology.all_ports() if span[0] <= p <= span[1]]


def check_ports_free(
    topology: Topology, skip_nodes: set[str] | frozenset[str] = frozenset()
) -> None:
    """Raise on the first planned port already taken (nodes in `skip_nodes` are ours, running)."""
    for node, purpose, port in topology.all_ports():
        if node.name in skip_nodes:
            continue
        if not port_is_free(port):
            raise EnvironmentProblem(
                f"port {port} ({node.name} {purpose}) on {HOST} is already in use",
                hint="stop whatever holds it, or pick another range with base_port in "
                "gracectl.toml or GRACECTL_BASE_PORT",
            )
