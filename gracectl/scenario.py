"""Scenarios as data: a YAML file validated by a typed model (which also exports a JSON Schema).

A scenario names faults from a registry (`postgres.kill_leader`), never Python code; targets
are node names or role selectors (`postgres:leader`) resolved against live state when the
fault fires.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gracectl.checks.verdict import Invariant
from gracectl.errors import ConfigError
from gracectl.yaml_files import load_yaml_file

FaultName = Literal[
    "postgres.kill_leader",
    "postgres.kill_leader_postmaster",
    "postgres.pause_replication",
    "redis.pause_replication",
    "node.kill",
    "node.pause",
    "node.restart",
    "kafka.kill_partition_leader",
    "bus.restart_all",
    "events.kill_consumer",
]
# Faults that need an explicit target (a node name or a role selector such as postgres:leader).
TARGETED_FAULTS = {"node.kill", "node.pause", "node.restart"}
# Faults that only make sense with an event load.
EVENT_FAULTS = {"kafka.kill_partition_leader", "events.kill_consumer"}
# Faults that last `duration_s` and then heal themselves within the run.
TIMED_FAULTS = {"node.pause", "postgres.pause_replication", "redis.pause_replication"}
SteadyProbe = Literal["all_members_running", "postgres_writable", "replicas_streaming"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoadProfile(_Strict):
    writers: int = Field(4, ge=0, le=256)
    readers: int = Field(2, ge=0, le=256)
    write_rate: float = Field(200.0, ge=0, le=100_000, description="offered writes/s, total")
    read_rate: float = Field(100.0, ge=0, le=100_000, description="offered reads/s, total")
    duration_s: float = Field(30.0, gt=0, le=3600)
    op_timeout_s: float = Field(2.0, gt=0, le=60)

    @model_validator(mode="after")
    def _some_load(self) -> LoadProfile:
        if self.writers and not self.write_rate:
            raise ValueError("writers need a write_rate > 0")
        if self.readers and not self.read_rate:
            raise ValueError("readers need a read_rate > 0")
        return self


class FaultStep(_Strict):
    fault: FaultName
    target: str | None = Field(None, description="node name (pg-1) or selector (postgres:leader)")
    at_s: float = Field(..., ge=0, description="seconds after the load starts")
    duration_s: float | None = Field(None, gt=0, le=600, description="for timed faults")

    @model_validator(mode="after")
    def _shape(self) -> FaultStep:
        if self.fault in TARGETED_FAULTS and not self.target:
            raise ValueError(f"{self.fault} needs a target (node name or kind:role)")
        if self.fault in TIMED_FAULTS and self.duration_s is None:
            raise ValueError(f"{self.fault} needs duration_s")
        return self


class Rollback(_Strict):
    heal_timeout_s: float = Field(180.0, gt=0, le=1800)


class EventLoad(_Strict):
    """Sequence-numbered events produced (open model) and optionally consumed in a group."""

    producers: int = Field(2, ge=1, le=64)
    produce_rate: float = Field(200.0, gt=0, le=1_000_000, description="events/s, total")
    consumers: int = Field(0, ge=0, le=16)
    consumer_processes: bool = Field(True, description="consumers as processes a fault can kill")
    partitions: int = Field(3, ge=1, le=64)
    topic: str = Field("gracectl-chaos", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    keys: int = Field(16, ge=1, le=100_000)
    duration_s: float = Field(30.0, gt=0, le=3600)
    op_timeout_s: float = Field(5.0, gt=0, le=60)
    late_tolerance_s: float = Field(
        0.05, ge=0, le=5, description="a send this much after its planned time counts as late"
    )
    replay_from_s: float | None = Field(
        None, ge=0, description="after the run, replay from load start + this and compare"
    )


class Scenario(_Strict):
    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    description: str = ""
    replication_mode: Literal["synchronous", "asynchronous"] | None = Field(
        None, description="set PostgreSQL's mode for this run (restored afterwards)"
    )
    steady_state: list[SteadyProbe] = ["all_members_running", "postgres_writable"]
    load: LoadProfile = LoadProfile()
    events: EventLoad | None = Field(
        None, description="an event-bus load instead of the PostgreSQL one"
    )
    bus: Literal["kafka", "redis-streams"] | None = Field(
        None, description="the event bus this scenario needs the stack to run"
    )
    faults: list[FaultStep] = Field(..., min_length=1)
    observe_s: float = Field(10.0, ge=0, le=600, description="load continues after the last fault")
    invariants: list[Invariant] = []
    rollback: Rollback = Rollback()

    @property
    def duration_s(self) -> float:
        return self.events.duration_s if self.events else self.load.duration_s

    @model_validator(mode="after")
    def _faults_fit(self) -> Scenario:
        which = "events.duration_s" if self.events else "load.duration_s"
        for step in self.faults:
            end = step.at_s + (step.duration_s or 0)
            if end + self.observe_s > self.duration_s:
                raise ValueError(
                    f"fault {step.fault} at {step.at_s} s (+{step.duration_s or 0} s) and "
                    f"observe_s {self.observe_s} run past {which} {self.duration_s}"
                )
            if step.fault in EVENT_FAULTS and self.events is None:
                raise ValueError(f"fault {step.fault} needs an `events` load")
        return self


def json_schema() -> dict[str, Any]:
    return Scenario.model_json_schema()


def _location(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return field, first["msg"]


def parse_scenario(data: Any, source: str) -> Scenario:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: a scenario must be a mapping", hint="see `gracectl scenario schema`"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        field, message = _location(exc)
        raise ConfigError(
            f"{source}: {field}: {message}", hint="see `gracectl scenario schema` for the fields"
        ) from exc


def load_scenario(path: Path) -> Scenario:
    data = load_yaml_file(path, "scenario", "`gracectl scenario list` shows the bundled ones")
    return parse_scenario(data, str(path))


def bundled_dir() -> Path:
    """The `scenarios/` folder shipped beside the package."""
    return Path(__file__).resolve().parent.parent / "scenarios"


def list_bundled() -> list[tuple[Path, Scenario | str]]:
    result: list[tuple[Path, Scenario | str]] = []
    for path in sorted(bundled_dir().glob("*.yaml")):
        try:
            result.append((path, load_scenario(path)))
        except ConfigError as exc:
            result.append((path, exc.message))
    return result


def dump(scenario: Scenario) -> str:
    return json.dumps(scenario.model_dump(mode="json"), indent=2)
