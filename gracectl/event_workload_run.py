"""Inside the event-workload subprocess (`python -m gracectl.event_workload`): producer
threads on an open-model schedule and the load process that runs them next to its consumers
(threads or child processes, gracectl.event_consumers), each writing its own JSON-lines
history of EventOps. gracectl.event_workload is the caller's side.

Producer k of a producer sends event seq at t0 + seq / rate_per_producer (producers offset
within one interval), measures latency from that planned time, flags it `late` past the
tolerance and never skips one; a backlog still unsent op_timeout after the schedule's end
is recorded as `fail` (not sent). A send does not wait for its answer (Kafka: the acks=all
delivery report; Redis Streams answers at once): the event is recorded when the answer
comes, `end` being that moment, or as indeterminate if none came op_timeout after the last
send. SIGTERM stops everything at the next operation boundary.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from gracectl.bus import Ack, EventBus
from gracectl.errors import GracectlError
from gracectl.event_consumers import (
    CONSUMER_HARD_STOP_S,
    consume_loop,
    end_consumers,
    install_sigterm,
    run_consumer_process,
    spawn_consumers,
)
from gracectl.event_workload_read import EventPayload, partition_label
from gracectl.event_workload_spec import (
    HISTORY_DIR_NAME,
    PRODUCERS_DONE_NAME,
    EventWorkloadSpec,
    open_topic_bus,
)
from gracectl.history import EventOp, HistoryWriter, Outcome

log = logging.getLogger("gracectl.event_workload")

OUTCOMES: dict[str, Outcome] = {"ok": "ok", "fail": "fail", "indeterminate": "info"}
#: A producer waiting for its next send serves answers at least this often.
POLL_MAX_S = 0.1
POLL_MIN_S = 0.001
#: Stopped by SIGTERM: wait at most this long for the last answers (LoadProcess gives 10 s).
STOP_FLUSH_S = 2.0


STARTUP_TIMEOUT_S = 15.0


# -- producers -----------------------------------------------------------------------------
class StartLine:
    """Where producers wait for each other; the schedule's t0 is set when the last arrives
    (or after `timeout_s`, so one producer that cannot connect does not hold the rest)."""

    def __init__(self, parties: int, timeout_s: float) -> None:
        self._barrier = threading.Barrier(parties)
        self._timeout_s = timeout_s
        self._t0: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> float:
        with contextlib.suppress(threading.BrokenBarrierError):
            self._barrier.wait(self._timeout_s)
        with self._lock:
            if self._t0 is None:
                self._t0 = time.time() + 0.05
            return self._t0


class InFlight:
    """A producer's events sent but not yet answered, each recorded exactly once: when its
    Ack arrives (`end` = that moment), or as indeterminate when the producer gives up
    waiting (`abandon`); an Ack arriving after that is ignored."""

    def __init__(
        self, spec: EventWorkloadSpec, name: str, bus: EventBus, out: HistoryWriter
    ) -> None:
        self.spec = spec
        self.name = name
        self.bus = bus
        self.out = out
        self._pending: dict[int, tuple[EventPayload, float, float]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def send(self, payload: EventPayload, intended: float) -> None:
        start = time.time()
        self._pending[payload.seq] = (payload, intended, start)
        value = payload.to_json(self.spec.payload_bytes)
        self.bus.produce_async(payload.key, value, partial(self._answered, payload.seq))

    def _answered(self, seq: int, ack: Ack) -> None:
        entry = self._pending.pop(seq, None)
        if entry is not None:
            payload, intended, start = entry
            self.out.append(produce_op(self.spec, self.name, payload, ack, intended, start))

    def abandon(self, why: str) -> int:
        """Record every event still unanswered as indeterminate (it may land later)."""
        left = sorted(self._pending)
        for seq in left:
            self._answered(seq, Ack("indeterminate", error=why))
        return len(left)


def produce_schedule(
    spec: EventWorkloadSpec,
    index: int,
    start_line: StartLine,
    out: HistoryWriter,
    stop: threading.Event,
) -> None:
    """One producer thread: its own bus, its own history file. The schedule starts once
    every producer has connected and fetched metadata, so connection set-up (a second or
    more for Kafka) is not counted as the generator running late.

    Sends do not wait for their answer (EventBus.produce_async; Redis Streams answers at
    once): between sends the thread serves the answers that arrive. After the schedule it
    waits up to op_timeout_s for the last answers; events still unanswered are
    indeterminate."""
    name = f"producer-{index}"
    interval = 1.0 / spec.rate_per_producer
    sent = 0
    with open_topic_bus(spec) as bus:
        bus.partitions(spec.topic)
        in_flight = InFlight(spec, name, bus, out)
        t0 = start_line.wait()
        start_at = t0 + interval * index / spec.producers
        run_end = start_at + spec.duration_s
        seq = 0
        while not stop.is_set():
            intended = start_at + seq * interval
            if intended >= run_end:
                break
            key = f"k{(seq * spec.producers + index) % spec.keys}"
            now = time.time()
            if intended > now:
                wait_s = min(intended - now, POLL_MAX_S)
                if in_flight:
                    # poll's timeout is in whole ms: a shorter one would not wait at all.
                    bus.poll(max(wait_s, POLL_MIN_S))
                else:
                    stop.wait(wait_s)
                continue
            if now > run_end + spec.op_timeout_s:
                out.append(EventOp(
                    worker=name, op="produce", key=key, seq=seq, partition="",
                    intended=intended, start=now, end=now, outcome="fail",
                    error="not sent: backlog left when the run ended", late=True,
                ))  # fmt: skip
                seq += 1
                continue
            in_flight.send(EventPayload(producer=name, seq=seq, key=key), intended)
            bus.poll(0)
            sent += 1
            seq += 1
        flush_s = min(spec.op_timeout_s, STOP_FLUSH_S) if stop.is_set() else spec.op_timeout_s
        bus.flush(flush_s)
        unanswered = in_flight.abandon(f"no answer within {flush_s:g} s after the last send")
    log.info("%s sent %d events (%d planned), %d unanswered at the end",
             name, sent, seq, unanswered)  # fmt: skip


def produce_op(
    spec: EventWorkloadSpec,
    name: str,
    payload: EventPayload,
    ack: Ack,
    intended: float,
    start: float,
) -> EventOp:
    """The history record of one produce, made when its answer arrives (`end` = now)."""
    partition = "" if ack.partition is None else partition_label(spec.topic, ack.partition)
    return EventOp(
        worker=name, op="produce", key=payload.key, seq=payload.seq, partition=partition,
        offset=ack.offset if ack.ok else None, timestamp_ms=ack.timestamp_ms if ack.ok else None,
        intended=intended, start=start, end=time.time(), outcome=OUTCOMES[ack.status],
        error=ack.error or None, late=start - intended > spec.late_tolerance_s,
    )  # fmt: skip


# -- the load process ----------------------------------------------------------------------
def run_load(spec: EventWorkloadSpec, spec_path: Path, run_dir: Path) -> int:
    stop = install_sigterm()
    history_dir = run_dir / HISTORY_DIR_NAME
    history_dir.mkdir(parents=True, exist_ok=True)
    with open_topic_bus(spec) as bus:
        bus.create_topic(spec.topic, spec.partitions)
    done_marker = run_dir / PRODUCERS_DONE_NAME
    done_marker.unlink(missing_ok=True)
    producers_finished = threading.Event()
    failures: list[str] = []

    def guarded(name: str, target: Callable[[HistoryWriter], None]) -> threading.Thread:
        def body() -> None:
            out = HistoryWriter(history_dir / f"{name}.jsonl")
            try:
                target(out)
            except Exception as exc:  # a thread's death must show in the exit code
                log.exception("%s failed", name)
                failures.append(f"{name}: {exc}")
            finally:
                out.close()

        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        return thread

    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    consumer_threads: list[threading.Thread] = []
    try:
        if spec.consumer_processes:
            children = spawn_consumers(spec, spec_path, run_dir)
        else:
            consumer_threads = [
                guarded(name, partial(consume_loop, spec, name, stop=stop,
                                      producers_done=producers_finished.is_set))
                for name in (f"consumer-{i}" for i in range(spec.consumers))
            ]  # fmt: skip
        start_line = StartLine(spec.producers, timeout_s=STARTUP_TIMEOUT_S)
        producers = [
            guarded(f"producer-{i}", partial(produce_schedule, spec, i, start_line, stop=stop))
            for i in range(spec.producers)
        ]
        join_all(producers)
        producers_finished.set()
        done_marker.touch()
        log.info("producers done; consumers drain for %g s", spec.drain_s)
        join_all(consumer_threads)
        end_consumers(children, spec.drain_s + CONSUMER_HARD_STOP_S + 5, stop)
    finally:
        stop.set()
        end_consumers([c for c in children if c[1].poll() is None], 0, stop)
    if failures:
        log.error("event workload: %s", "; ".join(failures))
        return 3
    return 0


def join_all(threads: list[threading.Thread]) -> None:
    """Join with a timeout so the main thread keeps handling SIGTERM."""
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gracectl.event_workload")
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--consumer", help="run only this consumer (a consumer process)")
    parser.add_argument("--parent", type=int, help="a consumer's load process (its PID)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s [{args.consumer or 'load'} %(process)d] %(levelname)s %(message)s",
    )
    spec = EventWorkloadSpec.model_validate_json(args.spec.read_text())
    try:
        if args.consumer:
            return run_consumer_process(spec, args.run_dir, args.consumer,
                                        args.parent or os.getppid())  # fmt: skip
        return run_load(spec, args.spec, args.run_dir)
    except GracectlError as exc:
        log.error("%s (%s)", exc.message, exc.hint)
        return exc.exit_code
