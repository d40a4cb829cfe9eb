"""The consumer side of the event-workload subprocess: a consumer group member reading until
the producers are done and the drain is over, as a thread or as its own (killable) process,
each writing its own JSON-lines history of `consume` EventOps; and the load process's
handling of its consumer children (spawn, listing for the fault registry, drain, reap)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from gracectl.errors import GracectlError
from gracectl.event_workload_read import parse_payload, partition_label
from gracectl.event_workload_spec import (
    CONSUMERS_NAME,
    HISTORY_DIR_NAME,
    PRODUCERS_DONE_NAME,
    EventWorkloadSpec,
    open_topic_bus,
)
from gracectl.history import EventOp, HistoryWriter
from gracectl.processes import record

log = logging.getLogger("gracectl.event_workload")

CONSUME_BATCH = 100
CONSUME_WAIT_S = 0.5
#: Consumers end at most this long after their drain even if events keep coming.
CONSUMER_HARD_STOP_S = 30.0
CHILD_EXIT_GRACE_S = 5.0


def consume_loop(
    spec: EventWorkloadSpec,
    name: str,
    out: HistoryWriter,
    stop: threading.Event,
    producers_done: Callable[[], bool],
) -> None:
    """Read in the group until stopped, or until a read comes back empty drain_s after the
    producers ended (bounded by CONSUMER_HARD_STOP_S more)."""
    consumed = 0
    drain_until: float | None = None
    with open_topic_bus(spec) as bus:
        while not stop.is_set():
            start = time.time()
            try:
                events = bus.consume(spec.group, name, max_events=CONSUME_BATCH,
                                     timeout_s=CONSUME_WAIT_S)  # fmt: skip
            except GracectlError as exc:
                log.warning("%s: %s", name, exc)
                events = []
                stop.wait(CONSUME_WAIT_S)
            end = time.time()
            for event in events:
                payload = parse_payload(event.value)
                if payload is None:
                    continue  # not a workload event (another writer on the topic)
                out.append(EventOp(
                    worker=name, op="consume", key=event.key, seq=payload.seq,
                    partition=partition_label(event.topic, event.partition),
                    offset=event.offset, timestamp_ms=event.timestamp_ms,
                    producer=payload.producer, intended=start, start=start, end=end,
                    outcome="ok",
                ))  # fmt: skip
                consumed += 1
            if drain_until is None and producers_done():
                drain_until = end + spec.drain_s
            if drain_until is not None and (
                (not events and end >= drain_until) or end >= drain_until + CONSUMER_HARD_STOP_S
            ):
                break
    log.info("%s consumed %d events", name, consumed)


def run_consumer_process(spec: EventWorkloadSpec, run_dir: Path, name: str, parent: int) -> int:
    """A consumer as its own process: ends on SIGTERM, when its parent (the load, `parent`:
    given, as it may die before this process looks) is gone, or after the drain once the
    load has marked the producers done."""
    stop = install_sigterm()
    done_marker = run_dir / PRODUCERS_DONE_NAME

    def producers_done() -> bool:
        if os.getppid() != parent:
            log.warning("%s: the event workload is gone: stopping", name)
            stop.set()
        return done_marker.exists()

    out = HistoryWriter(run_dir / HISTORY_DIR_NAME / f"{name}.jsonl")
    try:
        consume_loop(spec, name, out, stop, producers_done)
    finally:
        out.close()
    return 0


def install_sigterm() -> threading.Event:
    stop = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        log.info("SIGTERM: stopping")
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    return stop


def spawn_consumers(
    spec: EventWorkloadSpec, spec_path: Path, run_dir: Path
) -> list[tuple[str, subprocess.Popen[bytes]]]:
    children = []
    for i in range(spec.consumers):
        name = f"consumer-{i}"
        command = [sys.executable, "-m", "gracectl.event_workload", "--spec", str(spec_path),
                   "--run-dir", str(run_dir), "--consumer", name,
                   "--parent", str(os.getpid())]  # fmt: skip
        # Inherits stdout/stderr: consumer logs land in the load's output file.
        children.append((name, subprocess.Popen(command, stdin=subprocess.DEVNULL)))
    records = [record(name, child.pid) for name, child in children]
    listed = [r.model_dump(mode="json") for r in records if r is not None]
    tmp = run_dir / f".{CONSUMERS_NAME}.tmp"
    tmp.write_text(json.dumps(listed, indent=2) + "\n")
    tmp.replace(run_dir / CONSUMERS_NAME)
    return children


def end_consumers(
    children: list[tuple[str, subprocess.Popen[bytes]]], wait_s: float, stop: threading.Event
) -> None:
    """Wait (up to `wait_s`, or until SIGTERM) for consumer processes to drain; SIGTERM,
    then SIGKILL, the ones still running. They are our unreaped children: their PIDs cannot
    have been recycled."""
    deadline = time.monotonic() + wait_s
    while any(c.poll() is None for _, c in children) and time.monotonic() < deadline:
        if stop.wait(0.1):
            break
    for name, child in children:
        if child.poll() is None:
            log.info("%s (pid %d) still running: SIGTERM", name, child.pid)
            child.terminate()
    for name, child in children:
        try:
            child.wait(timeout=CHILD_EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) ignored SIGTERM: SIGKILL", name, child.pid)
            child.kill()
            child.wait()
        if child.returncode != 0:
            log.info("%s (pid %d) ended with %s", name, child.pid, child.returncode)
