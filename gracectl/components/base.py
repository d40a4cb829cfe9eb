"""The small interface every infrastructure kind implements, and the context it works in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from gracectl.config import Settings
from gracectl.layout import Layout
from gracectl.secrets_store import Secrets
from gracectl.service_user import ServiceUser
from gracectl.status import ComponentState, ComponentStatus
from gracectl.supervisor import Program
from gracectl.topology import Node, Topology


@dataclass(frozen=True)
class StackContext:
    settings: Settings
    topology: Topology
    layout: Layout
    secrets: Secrets
    user: ServiceUser
    # name -> pid of programs supervisord reports running
    pids: dict[str, int]


class Component(ABC):
    """An infrastructure kind: how to configure it, run it, probe it, and know it is ready."""

    kind: str
    #: Start order: lower first; `up` waits for each tier to be ready before the next.
    tier: int
    #: What the progress display says while waiting.
    waiting_for: str
    #: `down` stops all nodes of this kind at once (a quorum's last member may hang alone).
    stop_together: bool = False

    def nodes(self, ctx: StackContext) -> list[Node]:
        return [n for n in ctx.topology.nodes if n.kind == self.kind]

    def binaries(self, ctx: StackContext) -> list[str]:
        """Executables this kind needs (absolute paths or names on PATH)."""
        return []

    @abstractmethod
    def write_configs(self, ctx: StackContext) -> None:
        """Render config files; files holding runtime state are written only once."""

    @abstractmethod
    def programs(self, ctx: StackContext) -> list[Program]:
        """The supervisord programs for this kind's nodes."""

    @abstractmethod
    def probe(self, ctx: StackContext) -> list[ComponentStatus]:
        """Live status of each node, from the nodes themselves."""

    @abstractmethod
    def not_ready_reason(self, ctx: StackContext) -> str | None:
        """None when this kind is fully ready; otherwise what is still missing."""

    def after_ready(self, ctx: StackContext) -> None:
        """One-off work once ready (create the application role, apply dynamic config)."""
        return None

    def nudge(self, ctx: StackContext) -> None:
        """Called now and then while waiting for readiness; a kind may help itself along."""
        return None

    def _pid(self, ctx: StackContext, node: Node) -> int | None:
        return ctx.pids.get(node.name)

    def _status(
        self,
        ctx: StackContext,
        node: Node,
        port_name: str,
        role: str,
        state: ComponentState | None = None,
        detail: str = "",
        lag_bytes: int | None = None,
    ) -> ComponentStatus:
        """A node's status; `state=None` means it did not answer (stopped or unhealthy)."""
        pid = self._pid(ctx, node)
        if state is None:
            state = "unhealthy" if pid else "stopped"
        return ComponentStatus(
            name=node.name,
            kind=self.kind,
            role=role,
            state=state,
            pid=pid,
            endpoint=node.endpoint(port_name),
            lag_bytes=lag_bytes,
            detail=detail,
        )
