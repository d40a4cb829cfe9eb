"""The status snapshot: what `gracectl status --json` prints and later scenarios read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ComponentState = Literal["running", "stopped", "unhealthy"]


class ComponentStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    role: str
    state: ComponentState
    pid: int | None
    endpoint: str
    lag_bytes: int | None = None
    detail: str = ""


class Endpoints(BaseModel):
    model_config = ConfigDict(frozen=True)

    postgres_rw: str
    postgres_ro: str
    postgres_database: str
    postgres_user: str
    redis_sentinels: list[str]
    redis_master_name: str
    haproxy_stats: str
    #: Comma-separated bootstrap servers, when the event bus is Kafka.
    kafka_bootstrap: str | None = None
    credentials: str = "run `gracectl env` for DSNs and passwords (secrets.json, mode 0600)"


class StackStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    profile: str
    home: str
    supervisor: ComponentState
    replication_mode: str
    bus: str
    components: list[ComponentStatus]
    endpoints: Endpoints

    def by_kind(self, kind: str) -> list[ComponentStatus]:
        return [c for c in self.components if c.kind == kind]
