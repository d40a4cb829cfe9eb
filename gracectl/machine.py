"""The machine a run measured on: every report states it, since figures mean little without."""

from __future__ import annotations

import os
import platform

import psutil
from pydantic import BaseModel, ConfigDict


class MachineInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    cores: int
    memory_mib: int
    cpu_model: str = ""
    kernel: str = ""
    hostname: str = ""
    load_avg_1m: float | None = None  # at the start: other work sharing the cores

    def describe(self) -> str:
        return f"{self.cores} cores, {self.memory_mib / 1024:.1f} GiB, {self.cpu_model or '?'}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def this_machine() -> MachineInfo:
    return MachineInfo(
        cores=os.cpu_count() or 1,
        memory_mib=psutil.virtual_memory().total // (1024 * 1024),
        cpu_model=_cpu_model(),
        kernel=platform.release(),
        hostname=platform.node(),
        load_avg_1m=os.getloadavg()[0],
    )
