"""Where a migration's progress lives between runs: a local file per migration, replaced atomically,
advanced only over the contiguous prefix of written pages so a resumed run never skips one."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from vecbridge.errors import InvalidArgumentError

CHECKPOINT_VERSION = 1


def default_checkpoint_dir() -> Path:
    """``$VECBRIDGE_CHECKPOINT_DIR``, else ``$XDG_CACHE_HOME/vecbridge/migrations`` (``~/.cache``)."""
    configured = os.environ.get("VECBRIDGE_CHECKPOINT_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "vecbridge" / "migrations"


def checkpoint_key(
    source_url: str,
    destination_url: str,
    collection: str,
    to_collection: str,
    namespaces: Sequence[str] | None,
    filter_: dict[str, Any] | None,
    layouts: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None),
) -> str:
    """A stable key for one migration: URLs without passwords, collections, namespace selection, filter,
    and the layouts both sides are read and written through (so a changed layout never resumes another
    copy); without layouts the key is the one earlier versions wrote, so their checkpoints still resume."""
    parts: list[Any] = [
        source_url,
        destination_url,
        collection,
        to_collection,
        sorted(namespaces) if namespaces else "*",
        filter_,
    ]
    if layouts != (None, None):
        parts.append(list(layouts))
    identity = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(identity.encode()).hexdigest()


class Checkpoint:
    """Per-namespace progress of one migration, saved atomically (temporary file + ``os.replace``)."""

    def __init__(self, path: Path, state: dict[str, Any]) -> None:
        self.path = path
        self.state = state

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            state = json.loads(text)
            if state.get("version") != CHECKPOINT_VERSION or not isinstance(state.get("namespaces"), dict):
                raise ValueError("unknown checkpoint format")
        except ValueError as exc:
            raise InvalidArgumentError(
                f"checkpoint {path} is unreadable ({exc}): restart the migration (--restart) to discard it"
            ) from None
        return cls(path, state)

    @classmethod
    def fresh(cls, path: Path, identity: dict[str, Any], namespaces: Sequence[str]) -> Checkpoint:
        state = {
            "version": CHECKPOINT_VERSION,
            **identity,
            "order": list(namespaces),
            "namespaces": {ns: {"cursor": None, "done": False, "written": 0} for ns in namespaces},
            "copy_complete": False,
        }
        return cls(path, state)

    @property
    def order(self) -> list[str]:
        return list(self.state["order"])

    def namespace(self, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = self.state["namespaces"][name]
        return entry

    @property
    def written(self) -> int:
        return sum(int(ns["written"]) for ns in self.state["namespaces"].values())

    @property
    def copy_complete(self) -> bool:
        return bool(self.state.get("copy_complete"))

    def save(self) -> None:
        self.state["updated_at"] = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.state, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class PageTracker:
    """Turns out-of-order page acknowledgements into a contiguous checkpoint.

    The reader registers each page in scan order (its namespace, the cursor *after* it, its record
    count); writers acknowledge pages in any order; the checkpoint advances only over the prefix
    of pages that are all acknowledged, so resuming from it never skips an unwritten page. A page's
    ``tallies`` (sync's added / updated / unchanged) are added to its namespace's entry with it.
    """

    def __init__(self, checkpoint: Checkpoint, on_advance: Callable[[int], None] | None = None) -> None:
        self.checkpoint = checkpoint
        self.on_advance = on_advance
        self._pages: dict[int, tuple[str, str | None, int, bool, Mapping[str, int]]] = {}
        self._acknowledged: set[int] = set()
        self._next_sequence = 0
        self._committed = 0

    def register(
        self,
        namespace: str,
        cursor_after: str | None,
        count: int,
        *,
        end: bool = False,
        tallies: Mapping[str, int] | None = None,
    ) -> int:
        sequence = self._next_sequence
        self._next_sequence += 1
        self._pages[sequence] = (namespace, cursor_after, count, end or cursor_after is None, tallies or {})
        return sequence

    @property
    def pending(self) -> int:
        return len(self._pages)

    def acknowledge(self, sequence: int) -> None:
        self._acknowledged.add(sequence)
        advanced = 0
        while self._committed in self._acknowledged:
            self._acknowledged.discard(self._committed)
            namespace, cursor, count, end, tallies = self._pages.pop(self._committed)
            entry = self.checkpoint.namespace(namespace)
            for key, value in tallies.items():
                entry[key] = int(entry.get(key, 0)) + value
            if cursor is not None:
                entry["cursor"] = cursor
            entry["written"] = int(entry["written"]) + count
            if end:
                entry["done"] = True
            advanced += count
            self._committed += 1
        if advanced or not self._pages:
            self.checkpoint.save()
        if advanced and self.on_advance is not None:
            self.on_advance(advanced)
