"""Replica lag sampled from Patroni's cluster view while a run goes on."""

from __future__ import annotations

import threading
import time

from gracectl import stack
from gracectl.components.postgres import Postgres
from gracectl.config import Settings
from gracectl.history import LagSample
from gracectl.layout import Layout
from gracectl.secrets_store import load as load_secrets
from gracectl.supervisor import Supervisor


class LagSampler(threading.Thread):
    """Polls Patroni's cluster view for replica lag while the run goes on."""

    def __init__(self, settings: Settings, interval_s: float = 0.5) -> None:
        super().__init__(name="lag-sampler", daemon=True)
        self.settings = settings
        self.interval_s = interval_s
        self.samples: list[LagSample] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        layout = Layout(self.settings.home_path)
        ctx = stack.build_context(
            self.settings,
            load_secrets(layout.secrets_file),
            stack.resolve_quietly(self.settings),
            Supervisor(layout),
        )
        postgres = Postgres()
        while not self._stop_event.wait(self.interval_s):
            view = postgres.cluster(ctx) or {"members": []}
            now = time.time()
            for member in view["members"]:
                lag = member.get("lag")
                if member.get("role") != "leader" and isinstance(lag, int):
                    self.samples.append(LagSample(at=now, node=member["name"], lag_bytes=lag))

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
