"""The load of a run, PostgreSQL writes/reads or bus events, behind one small interface the
runner drives: start it, hand its processes to the fault ledger, wait, stop, then conclude
(final read, checks, findings into the journal)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from gracectl import stack
from gracectl.config import Settings
from gracectl.evaluate import evaluate, evaluate_events
from gracectl.event_workload import (
    EventWorkload,
    EventWorkloadSpec,
    final_event_read,
    start_event_workload,
)
from gracectl.final_read import final_read
from gracectl.history import FaultWindow
from gracectl.journal import Journal
from gracectl.lag import LagSampler
from gracectl.processes import ProcessRecord
from gracectl.scenario import EventLoad, Scenario
from gracectl.workload import Workload, WorkloadResult, WorkloadSpec, start_workload


class RunLoad(Protocol):
    description: str
    history_dir: Path

    @property
    def topic(self) -> str | None:
        """The bus topic of an event load (None for PostgreSQL)."""
        ...

    def records(self) -> tuple[ProcessRecord, ...]: ...

    def consumer_pids(self) -> tuple[int, ...]: ...

    def wait(self, timeout_s: float) -> None: ...

    def stop(self) -> None: ...

    def conclude(self, journal: Journal, scenario: Scenario, windows: list[FaultWindow]) -> str:
        """Final read and checks into `journal`; returns a sentence about the final read."""
        ...


class PostgresLoad:
    """Locust writers and readers on the rw/ro endpoints, with replica lag sampled."""

    def __init__(self, run_dir: Path, scenario: Scenario, settings: Settings) -> None:
        self.settings = settings
        spec = WorkloadSpec(**scenario.load.model_dump())
        self.description = (
            f"{spec.writers} writers at {spec.write_rate:g}/s, {spec.readers} readers at "
            f"{spec.read_rate:g}/s for {spec.duration_s:g} s"
        )
        self.sampler = LagSampler(settings)
        self.sampler.start()
        self.workload: Workload = start_workload(spec, run_dir, stack.connection_env(settings))
        self.history_dir = self.workload.history_dir
        self.stats_path = self.workload.stats_path
        self.result: WorkloadResult | None = None

    @property
    def topic(self) -> str | None:
        return None

    def records(self) -> tuple[ProcessRecord, ...]:
        return self.workload.records()

    def consumer_pids(self) -> tuple[int, ...]:
        return ()

    def wait(self, timeout_s: float) -> None:
        self.result = self.workload.wait(timeout_s=timeout_s)

    def stop(self) -> None:
        self.workload.stop()
        self.sampler.stop()

    def conclude(self, journal: Journal, scenario: Scenario, windows: list[FaultWindow]) -> str:
        run_number = self.result.run_number if self.result else None
        final = final_read(self.settings, run_number=run_number)
        evaluate(journal, scenario, self.history_dir, windows, final, self.sampler.samples)
        return f"final read: {len(final.leader_ids)} ids on leader {final.leader}"


class EventsLoad:
    """Sequence-numbered events produced on the bus, optionally consumed in a group."""

    def __init__(self, run_dir: Path, load: EventLoad, settings: Settings, bus: str) -> None:
        self.settings = settings
        self.load = load
        # The scenario's bus may differ from the stack's default (Redis Streams on a stack
        # that runs Kafka too): the load, the final read and the replay all use this one.
        self.env = {**stack.connection_env(settings), "GRACE_BUS": bus}
        # Producer names and sequences restart every run: a fresh topic and group per run
        # keep an earlier run's events out of this run's final read.
        suffix = time.strftime("%Y%m%d%H%M%S")
        self.event_topic = f"{load.topic}-{suffix}"
        spec = EventWorkloadSpec(
            producers=load.producers, produce_rate=load.produce_rate, consumers=load.consumers,
            consumer_processes=load.consumer_processes, topic=self.event_topic,
            group=f"gracectl-{suffix}", partitions=load.partitions,
            duration_s=load.duration_s, op_timeout_s=load.op_timeout_s, keys=load.keys,
            late_tolerance_s=load.late_tolerance_s,
            # A dead Kafka consumer's partitions move only after its session timeout (10 s).
            drain_s=15.0 if bus == "kafka" else 5.0,
        )
        self.description = (
            f"{load.producers} producers at {load.produce_rate:g} events/s, "
            f"{load.consumers} consumers, on {bus} topic {self.event_topic} for "
            f"{load.duration_s:g} s"
        )
        self.started_at = time.time()
        self.workload: EventWorkload = start_event_workload(spec, run_dir, self.env)
        self.history_dir = self.workload.history_dir

    def records(self) -> tuple[ProcessRecord, ...]:
        return self.workload.records()

    @property
    def topic(self) -> str | None:
        return self.event_topic

    def consumer_pids(self) -> tuple[int, ...]:
        return tuple(self.workload.consumer_pids())

    def wait(self, timeout_s: float) -> None:
        self.workload.wait(timeout_s=timeout_s)

    def stop(self) -> None:
        self.workload.stop()

    def conclude(self, journal: Journal, scenario: Scenario, windows: list[FaultWindow]) -> str:
        final = final_event_read(self.env, self.event_topic)
        replay_from_ms = (
            None if self.load.replay_from_s is None
            else int((self.started_at + self.load.replay_from_s) * 1000)
        )
        evaluate_events(journal, scenario, self.history_dir, windows, final, self.env,
                        self.event_topic, replay_from_ms)
        stored = sum(len(events) for events in final.partitions.values())
        return f"final read: {stored} events in {len(final.partitions)} partition(s)"


def start_load(run_dir: Path, scenario: Scenario, settings: Settings) -> RunLoad:
    if scenario.events is not None:
        return EventsLoad(run_dir, scenario.events, settings, scenario.bus or settings.bus)
    return PostgresLoad(run_dir, scenario, settings)
