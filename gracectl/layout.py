"""Where gracectl keeps things under GRACECTL_HOME: configs, data, logs, state, secrets."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from gracectl.errors import EnvironmentProblem

# AF_UNIX socket paths are limited to 107 bytes on Linux.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class Layout:
    home: Path

    @property
    def etc(self) -> Path:
        return self.home / "etc"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "log"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.json"

    @property
    def supervisor_conf(self) -> Path:
        return self.etc / "supervisord.conf"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def supervisor_socket(self) -> Path:
        path = self.run / "supervisor.sock"
        if len(str(path)) <= _MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        return Path(f"/tmp/gracectl-{digest}.sock")

    def node_data(self, node: str) -> Path:
        return self.data / node

    def node_log(self, node: str) -> Path:
        return self.logs / f"{node}.log"

    def create(self) -> None:
        """Make the directories (world-traversable so the service user can reach its own)."""
        try:
            for directory in (self.home, self.etc, self.data, self.logs, self.run):
                directory.mkdir(parents=True, exist_ok=True)
                os.chmod(directory, 0o755)
            probe = self.home / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise EnvironmentProblem(
                f"state directory {self.home} is not writable: {exc.strerror}",
                hint="set GRACECTL_HOME (or `home` in gracectl.toml) to a writable directory",
            ) from exc

    def log_tail(self, node: str, lines: int = 15) -> str:
        path = self.node_log(node)
        try:
            with path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 8192))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return f"(no log at {path})"
        return "\n".join(text.splitlines()[-lines:])
