"""The unprivileged account daemons run as when gracectl itself runs as root."""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gracectl.errors import EnvironmentProblem


@dataclass(frozen=True)
class ServiceUser:
    """`name` is None when gracectl is not root: daemons run as the invoking user."""

    name: str | None
    uid: int
    gid: int

    def chown(self, path: Path) -> None:
        if self.name is not None:
            os.chown(path, self.uid, self.gid)

    def chown_tree(self, path: Path) -> None:
        if self.name is None:
            return
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.gid)
            for entry in dirs + files:
                os.chown(os.path.join(root, entry), self.uid, self.gid, follow_symlinks=False)

    def command_prefix(self) -> list[str]:
        return ["runuser", "-u", self.name, "--"] if self.name else []

    def can_run(self, argv: list[str]) -> tuple[bool, str]:
        try:
            done = subprocess.run(
                [*self.command_prefix(), *argv],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        return done.returncode == 0, (done.stderr or done.stdout).strip()[-300:]


def resolve(run_as: str) -> ServiceUser:
    if os.geteuid() != 0:
        return ServiceUser(None, os.getuid(), os.getgid())
    try:
        entry = pwd.getpwnam(run_as)
    except KeyError as exc:
        raise EnvironmentProblem(
            f"service user {run_as!r} does not exist (PostgreSQL refuses to run as root)",
            hint="run scripts/setup.sh, which creates it, or set run_as to an existing user",
        ) from exc
    return ServiceUser(run_as, entry.pw_uid, entry.pw_gid)
