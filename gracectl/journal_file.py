"""What every journal (chaos run, capacity, verify) does with its file: written atomically
as indented JSON (a temporary file, then a rename), read back as the same model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Self

from pydantic import BaseModel


class JournalFile(BaseModel):
    """A pydantic model stored as one JSON file. A journal names BaseModel again among its
    bases (`class CapacityJournal(JournalFile, BaseModel)`), so that ruff knows it for a
    pydantic model, whose mutable field defaults are copied per instance (RUF012)."""

    def write(self, path: Path) -> None:
        """Replace `path` at once: a reader never sees a half-written journal."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> Self:
        return cls.model_validate(json.loads(path.read_text()))
