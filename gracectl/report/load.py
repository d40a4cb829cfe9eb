"""Read a journal of any kind (chaos, capacity, verify), dispatching on its `kind` field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from gracectl.capacity.model import CAPACITY_JOURNAL_VERSION, CapacityJournal
from gracectl.errors import ConfigError
from gracectl.journal import JOURNAL_VERSION, Journal
from gracectl.verify.model import VERIFY_JOURNAL_VERSION, VerifyJournal

AnyJournal = Journal | CapacityJournal | VerifyJournal
JournalKind = Literal["chaos", "capacity", "verify"]
SUPPORTED_VERSIONS: dict[str, int] = {
    "chaos": JOURNAL_VERSION,
    "capacity": CAPACITY_JOURNAL_VERSION,
    "verify": VERIFY_JOURNAL_VERSION,
}
HINT = (
    "pass a journal.json written by `gracectl chaos run`, `gracectl capacity` or "
    "`gracectl verify` (under GRACECTL_HOME/runs/)"
)


@dataclass(frozen=True)
class LoadedJournal:
    """A journal and the path it was read from (reports cite it as evidence)."""

    path: str
    journal: AnyJournal

    @property
    def kind(self) -> JournalKind:
        return self.journal.kind


def journal_file(path: Path) -> Path:
    """A run directory stands for the journal.json in it."""
    return path / "journal.json" if path.is_dir() else path


def _validate(kind: str, document: dict[str, Any]) -> AnyJournal:
    if kind == "chaos":
        return Journal.model_validate(document)
    if kind == "capacity":
        return CapacityJournal.model_validate(document)
    return VerifyJournal.model_validate(document)


def read_any_journal(path: Path) -> AnyJournal:
    """The journal at `path` (or `path`/journal.json for a run directory); a missing kind
    means a chaos journal written before kinds existed."""
    path = journal_file(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read journal: {exc.strerror}", hint=HINT) from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a gracectl journal (not JSON)", hint=HINT) from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: not a gracectl journal (not a JSON object)", hint=HINT)
    kind = document.get("kind", "chaos")
    if not isinstance(kind, str) or kind not in SUPPORTED_VERSIONS:
        raise ConfigError(
            f"{path}: unknown journal kind {kind!r}",
            hint="gracectl reports chaos, capacity and verify journals",
        )
    version = document.get("version", 1)
    if isinstance(version, int) and version > SUPPORTED_VERSIONS[kind]:
        raise ConfigError(
            f"{path}: {kind} journal version {version} is newer than this gracectl reads "
            f"({SUPPORTED_VERSIONS[kind]})",
            hint="render it with the gracectl that wrote it, or upgrade",
        )
    try:
        return _validate(kind, document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(
            f"{path}: not a valid {kind} journal ({where}: {first['msg']})", hint=HINT
        ) from exc


def load_journals(paths: Iterable[Path]) -> list[LoadedJournal]:
    return [LoadedJournal(str(journal_file(path)), read_any_journal(path)) for path in paths]
