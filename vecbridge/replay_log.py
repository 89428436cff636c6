"""A durable, ordered log of writes a mirrored store's secondary has not taken yet.

Each entry is one JSON line, flushed and fsynced before the caller's write returns, so a write
the secondary missed survives a crash of the process; a second file holds how many entries were
applied. When every entry is applied both files are emptied. Entries stay in memory too (a
secondary that is away for long holds its backlog in RAM as well as on disk).
"""

from __future__ import annotations

import base64
import json
import os
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from vecbridge.types import Record

ENTRIES = "entries.jsonl"
APPLIED = "applied"


class ReplayLog:
    """Pending secondary writes, oldest first; safe to reopen after a crash."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._entries_path = self.directory / ENTRIES
        self._applied_path = self.directory / APPLIED
        self._applied = 0
        self._pending: deque[dict[str, Any]] = deque(self._load())

    def _load(self) -> list[dict[str, Any]]:
        if not self._entries_path.exists():
            return []
        if self._applied_path.exists():
            self._applied = int(self._applied_path.read_text() or 0)
        text = self._entries_path.read_text()
        if text and not text.endswith("\n"):  # a line torn by a crash mid-write: it never returned to a caller
            text = text[: text.rfind("\n") + 1]
            self._entries_path.write_text(text)
        return [json.loads(line) for line in text.splitlines()[self._applied :]]

    def __len__(self) -> int:
        return len(self._pending)

    def append(self, entry: dict[str, Any]) -> None:
        """Add ``entry`` durably (fsynced) at the end."""
        with self._entries_path.open("a") as file:
            file.write(json.dumps(entry, separators=(",", ":")) + "\n")
            file.flush()
            os.fsync(file.fileno())
        self._pending.append(entry)

    def first(self) -> dict[str, Any] | None:
        return self._pending[0] if self._pending else None

    def applied_first(self) -> None:
        """Mark the oldest entry applied; when none is left, empty the files."""
        self._pending.popleft()
        if not self._pending:
            self._entries_path.write_text("")
            self._applied_path.unlink(missing_ok=True)
            self._applied = 0
            return
        self._applied += 1
        temporary = self._applied_path.with_suffix(".tmp")
        temporary.write_text(str(self._applied))
        os.replace(temporary, self._applied_path)


def record_to_json(record: Record) -> dict[str, Any]:
    vector = np.asarray(record.vector, dtype="<f4")
    return {
        "id": record.id,
        "vector": base64.b64encode(vector.tobytes()).decode(),
        "metadata": record.metadata,
        "document": record.document,
    }


def record_from_json(data: dict[str, Any]) -> Record:
    vector = np.frombuffer(base64.b64decode(data["vector"]), dtype="<f4").astype(np.float32)
    return Record(id=data["id"], vector=vector, metadata=data["metadata"], document=data["document"])
