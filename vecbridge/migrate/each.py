"""Moving a whole store: one migration or sync per collection, in turn, and one report for them all.

Each collection is planned, copied and verified on its own, with its own checkpoint, so a failure in
one undoes nothing another already verified and stops none of the others. A ledger file beside the
checkpoints records the collections verified so far; a resumed run skips them and resumes the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from vecbridge.migrate.checkpoint import default_checkpoint_dir
from vecbridge.store import Store

Outcome = Literal["succeeded", "failed", "refused", "verified_earlier"]


@dataclass(slots=True)
class CollectionRun:
    """One collection's outcome; ``report`` is its migration or sync report (``to_dict``), when it ran."""

    collection: str
    outcome: Outcome
    report: dict[str, Any] | None = None
    error: str | None = None


@dataclass(slots=True)
class StoreReport:
    """Every collection's outcome, in the order they ran."""

    runs: list[CollectionRun] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return all(run.outcome in ("succeeded", "verified_earlier") for run in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"succeeded": self.succeeded, "collections": [asdict(run) for run in self.runs]}


async def collection_names(store: Store) -> list[str]:
    """Every collection vecbridge holds at ``store`` (what ``--all`` moves), by name."""
    return [spec.name for spec in await store.list_collections()]


class Ledger:
    """The collections of one store-wide run verified so far, in a file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.verified: set[str] = set(json.loads(path.read_text(encoding="utf-8"))["verified"])
        except (OSError, ValueError, KeyError, TypeError):
            self.verified = set()

    @classmethod
    def for_run(cls, kind: str, source: str, destination: str, checkpoint_dir: str | os.PathLike[str] | None) -> Ledger:
        key = hashlib.sha256(json.dumps([kind, source, destination]).encode()).hexdigest()[:16]
        directory = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir()
        return cls(directory / f"{kind}-store-{key}.json")

    def record(self, collection: str) -> None:
        self.verified.add(collection)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"verified": sorted(self.verified)}), encoding="utf-8")
        os.replace(temporary, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


async def run_each(
    collections: Sequence[str],
    run_one: Callable[[str], Awaitable[CollectionRun]],
    ledger: Ledger | None,
    *,
    resume: bool,
) -> StoreReport:
    """Run ``run_one`` for every collection in turn; with ``resume``, skip those the ledger lists as verified.

    The ledger is removed once every collection is verified; a dry run passes none.
    """
    if ledger is not None and not resume:
        ledger.remove()
        ledger.verified = set()
    report = StoreReport()
    for name in collections:
        if ledger is not None and name in ledger.verified:
            report.runs.append(CollectionRun(name, "verified_earlier"))
            continue
        run = await run_one(name)
        report.runs.append(run)
        if ledger is not None and run.outcome == "succeeded":
            ledger.record(name)
    if ledger is not None and report.succeeded:
        ledger.remove()
    return report
