"""Generated passwords for the stack, stored 0600 in the state directory, made once."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from gracectl.errors import EnvironmentProblem


def _password() -> str:
    return secrets.token_urlsafe(24)


class Secrets(BaseModel):
    model_config = ConfigDict(frozen=True)

    pg_superuser: str
    pg_replication: str
    pg_rewind: str
    pg_app: str
    patroni_rest: str
    redis: str

    @classmethod
    def generate(cls) -> Secrets:
        return cls(**{name: _password() for name in cls.model_fields})


def load_or_create(path: Path) -> Secrets:
    if path.exists():
        return load(path)
    created = Secrets.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(created.model_dump(), fh, indent=2)
    return created


def load(path: Path) -> Secrets:
    try:
        return Secrets.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        raise EnvironmentProblem(
            f"{path}: unreadable secrets file ({exc.__class__.__name__})",
            hint="restore it, or `gracectl down --purge` to start from scratch",
        ) from exc
