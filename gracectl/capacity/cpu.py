"""How busy the load generator was: a thread samples the CPU time of a load process and all
its descendants (Locust's worker processes, the event workload's threads) and of the whole
machine; `busiest_utilization` turns the samples into "the busiest process used X of a core"
over a step's schedule window. Client and servers share the cores, so the machine's figure
goes beside it in the step's note."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 0.5


@dataclass(frozen=True)
class CpuSample:
    at: float  # Unix seconds
    process_cpu_s: dict[int, float]  # pid -> user + system CPU seconds so far
    machine_busy_s: float  # all cores, non-idle CPU seconds so far


def busiest_utilization(samples: Sequence[CpuSample], start: float, end: float) -> float:
    """Highest CPU share of one core any sampled process had between `start` and `end`
    (from its first to its last sample in the window). 0.0 with fewer than two samples."""
    window = [s for s in samples if start <= s.at <= end]
    best = 0.0
    pids = {pid for s in window for pid in s.process_cpu_s}
    for pid in pids:
        seen = [(s.at, s.process_cpu_s[pid]) for s in window if pid in s.process_cpu_s]
        if len(seen) < 2 or seen[-1][0] <= seen[0][0]:
            continue
        best = max(best, (seen[-1][1] - seen[0][1]) / (seen[-1][0] - seen[0][0]))
    return best


def machine_utilization(
    samples: Sequence[CpuSample], start: float, end: float, cores: int
) -> float | None:
    """Share of all cores busy between `start` and `end`; None with fewer than two samples."""
    window = [s for s in samples if start <= s.at <= end]
    if len(window) < 2 or window[-1].at <= window[0].at or cores < 1:
        return None
    busy = window[-1].machine_busy_s - window[0].machine_busy_s
    return busy / (window[-1].at - window[0].at) / cores


def _machine_busy_s() -> float:
    times = psutil.cpu_times()
    return float(sum(times)) - times.idle - getattr(times, "iowait", 0.0)


class CpuSampler:
    """`with CpuSampler(pid) as sampler: ...; sampler.samples`. Descendants are looked up
    at every sample, so worker processes forked after the start are included."""

    def __init__(self, root_pid: int, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.samples: list[CpuSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._procs: dict[int, psutil.Process] = {}

    def _processes(self) -> list[psutil.Process]:
        try:
            root = self._procs.setdefault(self.root_pid, psutil.Process(self.root_pid))
            for child in root.children(recursive=True):
                self._procs.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass
        return list(self._procs.values())

    def sample(self) -> None:
        cpu: dict[int, float] = {}
        for proc in self._processes():
            try:
                times = proc.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            cpu[proc.pid] = times.user + times.system
        self.samples.append(CpuSample(time.time(), cpu, _machine_busy_s()))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> CpuSampler:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
