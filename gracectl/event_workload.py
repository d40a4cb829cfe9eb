"""The event load of a bus chaos run, shaped like gracectl.workload so a scenario runner can
use either: a spec, a handle on a subprocess (`python -m gracectl.event_workload`) that
streams JSON-lines histories of EventOps into <run_dir>/events/, and a final read.

The load is a subprocess because confluent-kafka's calls block (gracectl.bus.base): inside
it each producer is a thread with its own bus; consumers are threads, or their own OS
processes (listed in <run_dir>/consumers.json) so a fault can SIGKILL one. What runs inside
the subprocess lives in gracectl.event_workload_run.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import psutil

from gracectl.event_workload_read import (
    final_event_read,
    history_files,
    read_event_ops,
    stored_event_read,
)
from gracectl.event_workload_spec import (
    CONSUMERS_NAME,
    HISTORY_DIR_NAME,
    OUTPUT_NAME,
    PASSED_ENV_PREFIXES,
    SPEC_NAME,
    EventWorkloadError,
    EventWorkloadResult,
    EventWorkloadSpec,
)
from gracectl.load_process import LoadProcess
from gracectl.processes import ProcessRecord, live_process
from gracectl.waiting import timeout_multiplier

log = logging.getLogger(__name__)

__all__ = [
    "EventWorkload",
    "EventWorkloadError",
    "EventWorkloadResult",
    "EventWorkloadSpec",
    "final_event_read",
    "read_event_ops",
    "start_event_workload",
    "stored_event_read",
]


def connection_subset(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(PASSED_ENV_PREFIXES)}


class EventWorkload(LoadProcess[EventWorkloadResult]):
    """The event load as a subprocess: `with EventWorkload(spec, env, run_dir) as wl: ...`.

    `connection` is the stack's connection environment (`gracectl env --json`,
    gracectl.stack.connection_env). Leaving the `with` block stops the load if it still
    runs, consumer processes included, so no process outlives the caller.
    """

    label = "event workload"
    error_type = EventWorkloadError

    def __init__(
        self,
        spec: EventWorkloadSpec,
        connection: Mapping[str, str],
        run_dir: Path,
        python: str = sys.executable,
    ) -> None:
        self.connection = connection_subset(connection)
        if not self.connection:
            raise EventWorkloadError(
                "event workload: no bus settings (GRACE_REDIS_*, GRACE_KAFKA_BOOTSTRAP)",
                hint="pass `gracectl env --json`",
            )
        super().__init__(run_dir)
        self.spec = spec
        self.python = python

    # -- paths -----------------------------------------------------------------------------
    @property
    def history_dir(self) -> Path:
        return self.run_dir / HISTORY_DIR_NAME

    @property
    def spec_path(self) -> Path:
        return self.run_dir / SPEC_NAME

    @property
    def consumers_path(self) -> Path:
        return self.run_dir / CONSUMERS_NAME

    @property
    def output_path(self) -> Path:
        return self.run_dir / OUTPUT_NAME

    def history_paths(self) -> tuple[Path, ...]:
        return history_files(self.history_dir)

    def consumer_records(self) -> tuple[ProcessRecord, ...]:
        """Identity records of the consumer processes, as the load wrote them when it
        started them (an empty tuple until then, or with consumer threads)."""
        try:
            listed = json.loads(self.consumers_path.read_text())
        except (OSError, ValueError):
            return ()
        return tuple(ProcessRecord.model_validate(item) for item in listed)

    def consumer_pids(self) -> list[int]:
        """PIDs of the consumer processes still alive (identity-checked): what a fault may
        SIGKILL."""
        return [r.pid for r in self.consumer_records() if live_process(r) is not None]

    # -- lifecycle -------------------------------------------------------------------------
    def command(self) -> list[str]:
        return [self.python, "-m", "gracectl.event_workload",
                "--spec", str(self.spec_path), "--run-dir", str(self.run_dir)]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRACE_", "GRACECTL_"))}
        env.update(self.connection)
        env["PYTHONUNBUFFERED"] = "1"
        if "GRACECTL_TIMEOUT_MULTIPLIER" in os.environ:
            env["GRACECTL_TIMEOUT_MULTIPLIER"] = os.environ["GRACECTL_TIMEOUT_MULTIPLIER"]
        return env

    def _before_start(self) -> None:
        self.history_dir.mkdir(parents=True, exist_ok=True)
        self.spec_path.write_text(self.spec.model_dump_json(indent=2) + "\n")

    def _started(self) -> str:
        spec = self.spec
        return (
            f"{spec.producers} producers at {spec.produce_rate:g} events/s on {spec.topic}, "
            f"{spec.consumers} consumer {'processes' if spec.consumer_processes else 'threads'}"
            f" in group {spec.group}, for {spec.duration_s:g} s -> {self.run_dir}"
        )

    def default_timeout_s(self) -> float:
        return self.spec.run_bound_s * timeout_multiplier()

    def _extra_leftovers(self) -> list[psutil.Process]:
        """Consumer processes the load listed, even if no longer its children."""
        return [p for p in map(live_process, self.consumer_records()) if p is not None]

    def _make_result(
        self, exit_code: int | None, stopped: bool, killed: bool
    ) -> EventWorkloadResult:
        return EventWorkloadResult(
            history_dir=self.history_dir,
            history_paths=self.history_paths(),
            output_path=self.output_path,
            exit_code=exit_code,
            stopped=stopped,
            killed=killed,
        )


def start_event_workload(
    spec: EventWorkloadSpec, run_dir: Path, env: Mapping[str, str]
) -> EventWorkload:
    """Start the event load; the caller must `wait()` and/or `stop()` it."""
    workload = EventWorkload(spec, env, run_dir)
    workload.start()
    return workload


if __name__ == "__main__":
    from gracectl.event_workload_run import main

    sys.exit(main())
