"""Migration: copy a collection between any two backends through the public API only.

The pipeline is one reader and a few writers joined by a bounded queue, so memory stays flat
whatever the collection size::

    source.scan(cursor) --pages--> asyncio.Queue(maxsize) --pages--> N writers: destination.upsert(page)
                                                                        |
                             checkpoint file <-- contiguous acknowledged prefix of pages

Pages finish out of order (several writers), so the checkpoint is the source cursor after the last
page such that it *and every page before it* are written. It lives in a local file keyed by source,
destination, collections, namespaces and filter, and is replaced atomically: the source is never
written to. Replaying pages after a crash is safe because upserts are idempotent and replace whole
records. A failed page is retried (jittered exponential backoff for transient errors) and then
fails the run: nothing is ever skipped.

Before the first write a :class:`MigrationPlan` states dimension, metric, namespaces, counts and
everything that stops or weakens the copy; after the copy :func:`verify` compares counts, record
contents and the top-k answers of sample queries, and lists every mismatch.

When the destination declares record limits (``Adapter.check_storable``: Milvus' 65,535-byte
document column, Pinecone's 40 KB of metadata), the plan reads the selected source once without
vectors and lists the records the destination cannot hold, field by field; they refuse the run,
unless ``skip_unfit`` leaves them out: then the report lists them and verification counts them as
known exclusions, never as mismatches. Nothing is ever dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vecbridge.adapter import Adapter, Capability
from vecbridge.errors import (
    ConsistencyTimeoutError,
    InvalidArgumentError,
    InvalidRecordError,
    PartialWriteError,
    TransientBackendError,
    UnsupportedFilterError,
    VecbridgeError,
)
from vecbridge.filters import Filter, format_filter, parse_filter
from vecbridge.store import Collection
from vecbridge.types import HNSW, CollectionSpec, Metadata, Metric, Record

VerifyMode = Literal["none", "count", "sample", "full"]
VERIFY_MODES: tuple[str, ...] = ("none", "count", "sample", "full")
ProgressCallback = Callable[[str, int, "int | None"], None]

CHECKPOINT_VERSION = 1
#: Page size of the plan's scan of the source against the destination's record limits.
FIT_SCAN_PAGE = 1000
#: Ids of unfit records quoted per field in a plan issue (the report lists them all).
UNFIT_IDS_SHOWN = 5
#: Float32 tolerance for comparing vectors read back from two backends.
VECTOR_RTOL = 1e-5
VECTOR_ATOL = 1e-6


class MigrationRefusedError(VecbridgeError):
    """The plan has blocking issues; nothing was written. ``plan`` says why."""

    def __init__(self, plan: MigrationPlan) -> None:
        reasons = "; ".join(issue.message for issue in plan.errors)
        super().__init__(f"migration refused before any write: {reasons}")
        self.plan = plan


class MigrationFailedError(VecbridgeError):
    """The copy failed after retries; the checkpoint holds what was written. ``report`` has the details."""

    def __init__(self, message: str, report: MigrationReport) -> None:
        super().__init__(message)
        self.report = report


# --- plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanIssue:
    """One finding of the plan: an ``error`` refuses the migration, a ``warning`` is reported."""

    severity: Literal["error", "warning"]
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class UnfitRecord:
    """A source record the destination cannot hold whole (its ``Adapter.check_storable`` refused it)."""

    namespace: str
    id: str
    #: The field the destination named (``"document"``, ``"metadata"``, a key), or ``"record"``.
    field: str
    reason: str


def _reason(exc: InvalidRecordError) -> str:
    """The error's message without the ``record 'x', field 'y': `` prefix (kept in their own columns)."""
    where = []
    if exc.record_id is not None:
        where.append(f"record {exc.record_id!r}")
    if exc.field is not None:
        where.append(f"field {exc.field!r}")
    text, prefix = str(exc), f"{', '.join(where)}: "
    return text[len(prefix) :] if where and text.startswith(prefix) else text


@dataclass(slots=True)
class MigrationPlan:
    """What will be copied, where to, and what stands in the way; computed before any write."""

    source: str
    destination: str
    collection: str
    to_collection: str
    source_spec: CollectionSpec
    destination_spec: CollectionSpec
    destination_exists: bool
    destination_count: int
    namespaces: list[str]
    counts: dict[str, int]
    filter: dict[str, Any] | None
    checkpoint_path: str
    resume_from: dict[str, Any] | None = None
    issues: list[PlanIssue] = field(default_factory=list)
    #: Metadata keys seen in a sample of the source (the first page of each namespace), with their value types.
    metadata_keys: dict[str, list[str]] = field(default_factory=dict)
    #: True when the destination declares record limits and the selected source was scanned against them.
    fit_checked: bool = False
    #: Source records the destination cannot hold whole, in scan order.
    unfit: list[UnfitRecord] = field(default_factory=list)
    #: Unfit records are left out of the copy (warnings) instead of refusing the run (errors).
    skip_unfit: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def to_copy(self) -> int:
        """Records the copy writes: the total less the unfit records it leaves out."""
        return self.total - (len(self.unfit) if self.skip_unfit else 0)

    def exclusions(self) -> dict[str, set[str]]:
        """Ids left out of the copy per namespace (known exclusions for verification); empty unless ``skip_unfit``."""
        excluded: dict[str, set[str]] = {}
        if self.skip_unfit:
            for record in self.unfit:
                excluded.setdefault(record.namespace, set()).add(record.id)
        return excluded

    @property
    def errors(self) -> list[PlanIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "collection": self.collection,
            "to_collection": self.to_collection,
            "source_facts": self.source_spec.to_dict(),
            "destination_facts": self.destination_spec.to_dict(),
            "destination_exists": self.destination_exists,
            "destination_count": self.destination_count,
            "namespaces": self.namespaces,
            "counts": self.counts,
            "total": self.total,
            "filter": self.filter,
            "checkpoint": self.checkpoint_path,
            "resume_from": self.resume_from,
            "issues": [asdict(issue) for issue in self.issues],
            "metadata_keys": self.metadata_keys,
            "fit_checked": self.fit_checked,
            "skip_unfit": self.skip_unfit,
            "unfit": [asdict(record) for record in self.unfit],
            "ok": self.ok,
        }

    def lines(self) -> list[str]:
        """The plan as human-readable lines (what ``--dry-run`` prints)."""
        src, dst = self.source_spec, self.destination_spec
        state = f"exists, {self.destination_count} records" if self.destination_exists else "will be created"
        out = [
            f"source:       {self.source} collection {self.collection!r}",
            f"destination:  {self.destination} collection {self.to_collection!r} ({state})",
            f"dimension:    {src.dimension} -> {dst.dimension}",
            f"metric:       {src.metric.value} -> {dst.metric.value}",
            f"index:        {src.index.kind} -> {dst.index.kind}",
            f"embedding:    {src.embedding_model or '-'} -> {dst.embedding_model or '-'}",
            f"filter:       {json.dumps(self.filter) if self.filter else '(none: every record)'}",
            "namespaces:   " + (", ".join(f"{ns} ({self.counts.get(ns, 0)})" for ns in self.namespaces) or "(none)"),
            f"records:      {self.total}",
            "metadata:     "
            + (", ".join(f"{k} ({'|'.join(t)})" for k, t in self.metadata_keys.items()) or "(none in the sample)"),
            f"limits:       {self._limits_line()}",
            f"checkpoint:   {self.checkpoint_path}",
        ]
        if self.resume_from is not None:
            written = sum(int(ns.get("written", 0)) for ns in self.resume_from.get("namespaces", {}).values())
            out.append(f"resume:       {written} records already written by an earlier run")
        for issue in self.issues:
            out.append(f"{issue.severity.upper()}: [{issue.code}] {issue.message}")
        out.append("plan: OK" if self.ok else "plan: REFUSED (nothing will be written)")
        return out

    def _limits_line(self) -> str:
        if not self.fit_checked:
            return "the destination declares no record limits"
        if not self.unfit:
            return f"all {self.total} records fit the destination's record limits"
        fate = "left out of the copy (--skip-unfit)" if self.skip_unfit else "refuse the run"
        return f"{len(self.unfit)} of {self.total} records do not fit the destination and {fate}"


# --- checkpoint ----------------------------------------------------------------------------------


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
) -> str:
    """A stable key for one migration: URLs without passwords, collections, namespace selection, filter."""
    identity = json.dumps(
        [source_url, destination_url, collection, to_collection, sorted(namespaces) if namespaces else "*", filter_],
        sort_keys=True,
        ensure_ascii=False,
    )
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
    of pages that are all acknowledged, so resuming from it never skips an unwritten page.
    """

    def __init__(self, checkpoint: Checkpoint, on_advance: Callable[[int], None] | None = None) -> None:
        self.checkpoint = checkpoint
        self.on_advance = on_advance
        self._pages: dict[int, tuple[str, str | None, int, bool]] = {}
        self._acknowledged: set[int] = set()
        self._next_sequence = 0
        self._committed = 0

    def register(self, namespace: str, cursor_after: str | None, count: int, *, end: bool = False) -> int:
        sequence = self._next_sequence
        self._next_sequence += 1
        self._pages[sequence] = (namespace, cursor_after, count, end or cursor_after is None)
        return sequence

    @property
    def pending(self) -> int:
        return len(self._pages)

    def acknowledge(self, sequence: int) -> None:
        self._acknowledged.add(sequence)
        advanced = 0
        while self._committed in self._acknowledged:
            self._acknowledged.discard(self._committed)
            namespace, cursor, count, end = self._pages.pop(self._committed)
            entry = self.checkpoint.namespace(namespace)
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


# --- verification --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One difference between source and destination."""

    kind: Literal["count", "missing", "extra", "duplicate", "vector", "metadata", "document", "query"]
    namespace: str
    id: str | None
    detail: str


@dataclass(slots=True)
class Verification:
    """What verification compared and every mismatch it found."""

    mode: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    records_checked: int = 0
    records_matched: int = 0
    queries_checked: int = 0
    queries_matched: int = 0
    #: Mean share of the source's top-k ids that the destination also returned (1.0 = identical).
    query_agreement: float | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0
    #: Source records left out of the copy as unfit (``skip_unfit``): known exclusions, not mismatches.
    excluded: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "ok": self.ok,
            "counts": self.counts,
            "records_checked": self.records_checked,
            "records_matched": self.records_matched,
            "queries_checked": self.queries_checked,
            "queries_matched": self.queries_matched,
            "query_agreement": None if self.query_agreement is None else round(self.query_agreement, 4),
            "excluded_unfit": self.excluded,
            "mismatch_count": len(self.mismatches),
            "mismatches": [asdict(m) for m in self.mismatches],
            "seconds": round(self.seconds, 3),
        }


def _type_tag(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def metadata_differences(expected: Metadata, actual: Metadata) -> list[str]:
    """Key-by-key differences, types included: ``1`` (int) and ``1.0`` (float) differ, a missing key is not ``0``."""
    problems = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            problems.append(f"{key}: missing (expected {expected[key]!r})")
            continue
        if key not in expected:
            problems.append(f"{key}: unexpected {actual[key]!r}")
            continue
        left, right = expected[key], actual[key]
        if _type_tag(left) != _type_tag(right):
            problems.append(f"{key}: {left!r} ({_type_tag(left)}) became {right!r} ({_type_tag(right)})")
        elif isinstance(left, float) and isinstance(right, float):
            if not math.isclose(left, right, rel_tol=1e-12, abs_tol=0.0):
                problems.append(f"{key}: {left!r} became {right!r}")
        elif isinstance(left, list) and isinstance(right, list):
            if list(left) != list(right):
                problems.append(f"{key}: {left!r} became {right!r}")
        elif left != right:
            problems.append(f"{key}: {left!r} became {right!r}")
    return problems


def expected_vector(vector: object, normalize: bool) -> np.ndarray[Any, np.dtype[np.float32]]:
    array = np.asarray(vector, dtype=np.float32)
    if normalize:
        norm = float(np.linalg.norm(array))
        if norm > 0:
            array = (array / norm).astype(np.float32)
    return array


def compare_records(expected: Record, actual: Record, namespace: str, normalize: bool) -> list[Mismatch]:
    """Content comparison of one record: vector within float32 tolerance, metadata with types, document."""
    found: list[Mismatch] = []
    want = expected_vector(expected.vector, normalize)
    got = np.asarray(actual.vector, dtype=np.float32)
    if want.shape != got.shape:
        found.append(Mismatch("vector", namespace, expected.id, f"shape {want.shape} became {got.shape}"))
    elif not np.allclose(want, got, rtol=VECTOR_RTOL, atol=VECTOR_ATOL):
        worst = float(np.max(np.abs(want - got)))
        found.append(Mismatch("vector", namespace, expected.id, f"differs by up to {worst:.3g}"))
    problems = metadata_differences(expected.metadata, actual.metadata)
    if problems:
        found.append(Mismatch("metadata", namespace, expected.id, "; ".join(problems)))
    if expected.document != actual.document:
        found.append(
            Mismatch(
                "document", namespace, expected.id, f"{_short(expected.document)} became {_short(actual.document)}"
            )
        )
    return found


def _short(text: str | None) -> str:
    if text is None:
        return "None"
    return repr(text if len(text) <= 60 else text[:57] + "...")


# --- report --------------------------------------------------------------------------------------


@dataclass(slots=True)
class MigrationReport:
    """The outcome of :func:`migrate`; ``succeeded`` is true only when copy and verification succeeded."""

    plan: MigrationPlan
    status: Literal["dry_run", "succeeded", "failed"]
    resumed: bool = False
    copied: int = 0
    written_total: int = 0
    copy_seconds: float = 0.0
    verification: Verification | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def skipped(self) -> list[UnfitRecord]:
        """Records left out of the copy because the destination cannot hold them (``skip_unfit``)."""
        return list(self.plan.unfit) if self.plan.skip_unfit and self.status != "dry_run" else []

    @property
    def rate(self) -> float:
        return self.copied / self.copy_seconds if self.copy_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "succeeded": self.succeeded,
            "resumed": self.resumed,
            "copied_this_run": self.copied,
            "written_total": self.written_total,
            "copy_seconds": round(self.copy_seconds, 3),
            "records_per_second": round(self.rate, 1),
            "error": self.error,
            "skipped_unfit": [asdict(record) for record in self.skipped],
            "plan": self.plan.to_dict(),
            "verification": None if self.verification is None else self.verification.to_dict(),
        }


# --- the migration -------------------------------------------------------------------------------


def _canonical_filter(filter_: Filter | None) -> dict[str, Any] | None:
    canonical = format_filter(parse_filter(filter_))
    return canonical or None


async def plan_migration(
    source: Collection,
    destination: Collection,
    *,
    namespaces: Sequence[str] | None = None,
    filter: Filter | None = None,
    resume: bool = False,
    restart: bool = False,
    allow_metric_change: bool = False,
    allow_existing: bool = False,
    metric: str | Metric | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    skip_unfit: bool = False,
) -> MigrationPlan:
    """Everything :func:`migrate` checks before its first write; reads the source and destination only.

    When the destination declares record limits, every selected source record (matching ``filter``) is
    read once without its vector and checked with the destination's ``check_storable``.
    """
    source_store, destination_store = source.store, destination.store
    canonical = _canonical_filter(filter)
    source_spec = await source_store.adapter.describe_collection(source.name)
    all_namespaces = await source_store.list_namespaces(source.name)
    selected = list(dict.fromkeys(namespaces)) if namespaces else all_namespaces
    issues: list[PlanIssue] = []

    key = checkpoint_key(
        source_store.url.render(), destination_store.url.render(), source.name, destination.name, namespaces, canonical
    )
    directory = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir()
    checkpoint_path = directory / f"{source.name}-to-{destination.name}-{key[:16]}.json"
    existing_checkpoint = Checkpoint.load(checkpoint_path) if not restart else None

    counts: dict[str, int] = {}
    for namespace in selected:
        if namespace not in all_namespaces:
            issues.append(
                PlanIssue("warning", "empty_namespace", f"namespace {namespace!r} has no record in the source")
            )
        try:
            counts[namespace] = await source.with_namespace(namespace).count(filter=filter)
        except UnsupportedFilterError as exc:
            issues.append(PlanIssue("error", "unsupported_filter", f"the source cannot evaluate the filter: {exc}"))
            counts[namespace] = 0

    metadata_keys: dict[str, set[str]] = {}
    for namespace in selected:
        if counts.get(namespace):
            async for page in source.with_namespace(namespace).scan(100, include_vector=False):
                for record in page.records:
                    for key, value in record.metadata.items():
                        metadata_keys.setdefault(key, set()).add(_type_tag(value))
                break

    wanted_metric = Metric.parse(metric) if metric is not None else source_spec.metric
    destination_exists = await destination_store.has_collection(destination.name)
    destination_count = 0
    capabilities = destination_store.capabilities
    if destination_exists:
        destination_spec = await destination_store.adapter.describe_collection(destination.name)
        destination_count = (await destination_store.describe_collection(destination.name)).count
        if destination_spec.dimension != source_spec.dimension:
            issues.append(
                PlanIssue(
                    "error",
                    "dimension",
                    f"destination dimension {destination_spec.dimension} differs from the source's "
                    f"{source_spec.dimension}",
                )
            )
        if destination_spec.embedding_model != source_spec.embedding_model:
            issues.append(
                PlanIssue(
                    "error",
                    "embedding_model",
                    f"destination holds vectors of {destination_spec.embedding_model!r}, the source of "
                    f"{source_spec.embedding_model!r}",
                )
            )
        if metric is not None and destination_spec.metric != wanted_metric:
            issues.append(
                PlanIssue(
                    "error",
                    "metric",
                    f"destination exists with metric {destination_spec.metric.value}, not {wanted_metric.value}",
                )
            )
        if destination_count and not (resume and existing_checkpoint is not None) and not allow_existing:
            issues.append(
                PlanIssue(
                    "error",
                    "destination_not_empty",
                    f"destination collection {destination.name!r} already holds {destination_count} records; "
                    "migrate into an empty collection, resume the run that wrote them (--resume), or allow it "
                    "explicitly (--allow-existing)",
                )
            )
    else:
        destination_spec = CollectionSpec(
            name=destination.name,
            dimension=source_spec.dimension,
            metric=wanted_metric,
            index=source_spec.index,
            embedding_model=source_spec.embedding_model,
        )
    if destination_spec.metric != source_spec.metric:
        change = f"metric changes from {source_spec.metric.value} to {destination_spec.metric.value}: scores change"
        if allow_metric_change:
            issues.append(PlanIssue("warning", "metric_change", change + " (allowed)"))
        else:
            issues.append(PlanIssue("error", "metric_change", change + "; pass --allow-metric-change to accept"))
    if Capability.INDEX_SETTINGS not in capabilities and source_spec.index != HNSW():
        issues.append(
            PlanIssue(
                "warning",
                "index_settings",
                f"the destination maps index settings to its closest kind ({source_spec.index.kind} requested)",
            )
        )
    if Capability.NORMALIZES_COSINE_VECTORS in capabilities and destination_spec.metric is Metric.COSINE:
        issues.append(
            PlanIssue(
                "warning",
                "normalized_vectors",
                "the destination stores cosine vectors normalized to unit length; verification compares normalized",
            )
        )
    if Capability.PERSISTENT not in capabilities:
        issues.append(PlanIssue("warning", "not_persistent", "the destination does not persist data"))

    unfit: list[UnfitRecord] = []
    fit_checked = destination_store.adapter.has_record_limits() and not any(
        issue.code == "unsupported_filter" for issue in issues
    )
    if fit_checked:
        unfit = await _unfit_records(source, destination_store.adapter, destination_spec, selected, counts, filter)
        issues.extend(_unfit_issues(unfit, skip_unfit))

    resume_from = None
    if existing_checkpoint is not None:
        if resume:
            resume_from = existing_checkpoint.state
        else:
            issues.append(
                PlanIssue(
                    "error",
                    "checkpoint_exists",
                    f"an interrupted run of this migration left a checkpoint ({checkpoint_path}): pass --resume to "
                    "continue it or --restart to discard it",
                )
            )
    return MigrationPlan(
        source=source_store.url.render(),
        destination=destination_store.url.render(),
        collection=source.name,
        to_collection=destination.name,
        source_spec=source_spec,
        destination_spec=destination_spec,
        destination_exists=destination_exists,
        destination_count=destination_count,
        namespaces=selected,
        counts=counts,
        filter=canonical,
        checkpoint_path=str(checkpoint_path),
        resume_from=resume_from,
        issues=issues,
        metadata_keys={key: sorted(types) for key, types in sorted(metadata_keys.items())},
        fit_checked=fit_checked,
        unfit=unfit,
        skip_unfit=skip_unfit,
    )


async def _unfit_records(
    source: Collection,
    adapter: Adapter,
    spec: CollectionSpec,
    namespaces: Sequence[str],
    counts: dict[str, int],
    filter: Filter | None,
) -> list[UnfitRecord]:
    """The selected source records ``adapter`` cannot hold whole, read without vectors."""
    found: list[UnfitRecord] = []
    for namespace in namespaces:
        if not counts.get(namespace):
            continue
        async for page in source.with_namespace(namespace).scan(FIT_SCAN_PAGE, filter=filter, include_vector=False):
            for record in page.records:
                try:
                    adapter.check_storable(spec, record)
                except InvalidRecordError as exc:
                    found.append(UnfitRecord(namespace, record.id, exc.field or "record", _reason(exc)))
    return found


def _unfit_issues(unfit: list[UnfitRecord], skip_unfit: bool) -> list[PlanIssue]:
    """One issue per field: how many records, the first ids, the first reason."""
    by_field: dict[str, list[UnfitRecord]] = {}
    for record in unfit:
        by_field.setdefault(record.field, []).append(record)
    issues = []
    for name, records in by_field.items():
        shown = ", ".join(f"{r.namespace}:{r.id!r}" for r in records[:UNFIT_IDS_SHOWN])
        more = f" and {len(records) - UNFIT_IDS_SHOWN} more" if len(records) > UNFIT_IDS_SHOWN else ""
        message = (
            f"field {name!r}: the destination cannot hold {len(records)} record(s) whole ({shown}{more}); "
            f"first reason: {records[0].reason}"
        )
        if skip_unfit:
            issues.append(
                PlanIssue("warning", "record_does_not_fit", message + "; left out of the copy and listed in the report")
            )
        else:
            issues.append(
                PlanIssue(
                    "error",
                    "record_does_not_fit",
                    message + "; shorten them at the source, filter them out, or pass --skip-unfit to leave them "
                    "out of the copy (listed in the report)",
                )
            )
    return issues


def _first_error(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, TransientBackendError | ConsistencyTimeoutError):
        return True
    if isinstance(exc, PartialWriteError):
        return isinstance(exc.__cause__, TransientBackendError | ConsistencyTimeoutError)
    return False


async def _write_page(collection: Collection, records: list[Record], retries: int, base_delay: float) -> None:
    """Upsert one page; retry retryable failures with jittered exponential backoff, then raise."""
    for attempt in range(retries + 1):
        try:
            await collection.upsert(records, concurrency=1)
            return
        except VecbridgeError as exc:
            if attempt == retries or not _retryable(exc):
                raise
            delay = min(30.0, base_delay * 2**attempt)
            await asyncio.sleep(delay * (0.5 + random.random()))


@dataclass(slots=True)
class _Sample:
    """Reservoir sample of copied record ids per namespace, for ``--verify sample``."""

    size: int
    seen: int = 0
    items: list[tuple[str, str]] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def offer(self, namespace: str, record_id: str) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append((namespace, record_id))
        else:
            slot = self.rng.randrange(self.seen)
            if slot < self.size:
                self.items[slot] = (namespace, record_id)


async def _copy(
    plan: MigrationPlan,
    source: Collection,
    destination: Collection,
    checkpoint: Checkpoint,
    *,
    filter: Filter | None,
    page_size: int,
    writers: int,
    queue_size: int,
    retries: int,
    retry_delay: float,
    sample: _Sample,
    on_progress: ProgressCallback | None,
) -> int:
    """Run reader and writers until every selected namespace is done; returns records written."""
    queue: asyncio.Queue[tuple[int, str, list[Record]] | None] = asyncio.Queue(maxsize=queue_size)
    copied = 0
    total = plan.to_copy
    excluded = plan.exclusions()

    def advanced(count: int) -> None:
        nonlocal copied
        copied += count
        if on_progress is not None:
            on_progress("copy", checkpoint.written, total)

    tracker = PageTracker(checkpoint, advanced)

    async def read() -> None:
        for namespace in checkpoint.order:
            entry = checkpoint.namespace(namespace)
            if entry["done"]:
                continue
            scoped = source.with_namespace(namespace)
            skip = excluded.get(namespace)
            async for page in scoped.scan(page_size, cursor=entry["cursor"], filter=filter):
                kept = [r for r in page.records if r.id not in skip] if skip else page.records
                for record in kept:
                    sample.offer(namespace, record.id)
                sequence = tracker.register(namespace, page.cursor, len(kept))
                if kept:
                    await queue.put((sequence, namespace, kept))
                else:  # every record of the page is a known exclusion: nothing to write
                    tracker.acknowledge(sequence)
            tracker.acknowledge(tracker.register(namespace, None, 0, end=True))
        for _ in range(writers):
            await queue.put(None)

    async def write() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            sequence, namespace, records = item
            await _write_page(destination.with_namespace(namespace), records, retries, retry_delay)
            tracker.acknowledge(sequence)

    async with asyncio.TaskGroup() as group:
        group.create_task(read())
        for _ in range(writers):
            group.create_task(write())
    return copied


async def _verify_counts(
    plan: MigrationPlan, source: Collection, destination: Collection, filter: Filter | None, result: Verification
) -> None:
    exclusions = plan.exclusions()
    for namespace in plan.namespaces:
        matching = await source.with_namespace(namespace).count(filter=filter)
        excluded = len(exclusions.get(namespace, ()))
        actual = await destination.with_namespace(namespace).count()
        result.counts[namespace] = {"source": matching, "destination": actual}
        if excluded:
            result.counts[namespace]["excluded"] = excluded
            result.excluded += excluded
        if matching - excluded != actual:
            left_out = f" ({excluded} left out as unfit)" if excluded else ""
            result.mismatches.append(
                Mismatch("count", namespace, None, f"source has {matching} records{left_out}, destination {actual}")
            )


async def _compare_batch(
    records: list[Record], namespace: str, destination: Collection, normalize: bool, result: Verification
) -> None:
    found = {r.id: r for r in await destination.with_namespace(namespace).get([r.id for r in records])}
    for record in records:
        result.records_checked += 1
        other = found.get(record.id)
        if other is None:
            result.mismatches.append(Mismatch("missing", namespace, record.id, "not in the destination"))
            continue
        problems = compare_records(record, other, namespace, normalize)
        if problems:
            result.mismatches.extend(problems)
        else:
            result.records_matched += 1


def _true_score(metric: Metric, query: np.ndarray[Any, Any], vector: np.ndarray[Any, Any]) -> float:
    q, v = query.astype(np.float64), vector.astype(np.float64)
    if metric is Metric.COSINE:
        return float(q @ v / max(np.linalg.norm(q) * np.linalg.norm(v), 1e-300))
    if metric is Metric.DOT:
        return float(q @ v)
    return -float(np.linalg.norm(q - v))


async def _verify_queries(
    queries: list[tuple[str, Record]],
    source: Collection,
    destination: Collection,
    filter: Filter | None,
    top_k: int,
    metric: Metric,
    result: Verification,
    exclusions: dict[str, set[str]] | None = None,
) -> None:
    """Sample queries: the destination returns as many results as the source, each with the score its
    source vector really has; when both sides search exactly, the same top-k ids too (ties aside).

    Between approximate indexes the top-k ids legitimately differ (different graphs, different
    ``ef``), so there the id agreement is reported (``query_agreement``) but is not a mismatch.
    Known exclusions (records left out as unfit) are dropped from the source's answer: the source is
    asked for that many more results, within its ``max_top_k``.
    """
    exact = Capability.EXACT_SEARCH in source.store.capabilities and Capability.EXACT_SEARCH in (
        destination.store.capabilities
    )
    shares: list[float] = []
    for namespace, record in queries:
        k = min(top_k, source.store.adapter.max_top_k, destination.store.adapter.max_top_k)
        query = np.asarray(record.vector, dtype=np.float32)
        skip = (exclusions or {}).get(namespace, set())
        ask = min(k + len(skip), source.store.adapter.max_top_k)
        answer = await source.with_namespace(namespace).query(query, ask, filter=filter)
        want = [m for m in answer if m.id not in skip][:k]
        short = len(want) < k and len(answer) == ask and ask < k + len(skip)  # more exclusions than lookahead
        got = await destination.with_namespace(namespace).query(query, k)
        result.queries_checked += 1
        problems: list[str] = []
        if len(got) != len(want) and not (short and len(got) > len(want)):
            problems.append(f"{len(got)} results instead of {len(want)}")
        floor = min((m.score for m in want), default=0.0)
        want_ids = {m.id for m in want}
        agreeing = sum(1 for m in got if m.id in want_ids or abs(m.score - floor) <= 1e-4 * max(1.0, abs(floor)))
        share = min(1.0, agreeing / max(len(want), 1)) if want else 1.0
        shares.append(share)
        if exact and share < 1.0:
            missing = [m.id for m in want if m.id not in {g.id for g in got}]
            problems.append(f"only {share:.0%} of the top-{k} ids agree; not returned: {missing[:5]}")
        originals = {r.id: r for r in await source.with_namespace(namespace).get([m.id for m in got])}
        for match in got:
            original = originals.get(match.id)
            if original is None:
                problems.append(f"returned {match.id!r}, which is not in the source")
                continue
            expected = _true_score(metric, query, np.asarray(original.vector, dtype=np.float32))
            if abs(match.score - expected) > 1e-3 * max(1.0, abs(expected)):
                problems.append(f"{match.id!r} scored {match.score:.6g}, its source vector gives {expected:.6g}")
        if problems:
            detail = f"top-{k} of this record's vector: " + "; ".join(problems[:5])
            result.mismatches.append(Mismatch("query", namespace, record.id, detail))
        else:
            result.queries_matched += 1
    if shares:
        result.query_agreement = sum(shares) / len(shares)


async def verify(
    source: Collection,
    destination: Collection,
    mode: VerifyMode | str = "count",
    *,
    plan: MigrationPlan,
    filter: Filter | None = None,
    sample_ids: Sequence[tuple[str, str]] = (),
    sample_size: int = 1000,
    sample_queries: int = 20,
    top_k: int = 10,
    page_size: int = 1000,
    on_progress: ProgressCallback | None = None,
) -> Verification:
    """Compare destination with source: ``count`` (per namespace), ``sample`` (counts + sampled records
    + sample queries) or ``full`` (every record both ways: missing, extra and duplicate ids too)."""
    if mode not in VERIFY_MODES:
        raise InvalidArgumentError(f"verify must be one of {', '.join(VERIFY_MODES)}, got {mode!r}")
    result = Verification(mode=str(mode))
    if mode == "none":
        return result
    started = time.perf_counter()
    exclusions = plan.exclusions()
    await _verify_counts(plan, source, destination, filter, result)
    normalize = (
        Capability.NORMALIZES_COSINE_VECTORS in destination.store.capabilities
        and plan.destination_spec.metric is Metric.COSINE
    )
    queries: list[tuple[str, Record]] = []
    rng = random.Random(1)
    if mode == "sample":
        by_namespace: dict[str, list[str]] = {}
        for namespace, record_id in sample_ids:
            by_namespace.setdefault(namespace, []).append(record_id)
        if not sample_ids:  # nothing copied in this run (resumed after the copy): sample the first pages
            for namespace in plan.namespaces:
                skip = exclusions.get(namespace, set())
                async for page in source.with_namespace(namespace).scan(page_size, filter=filter, include_vector=False):
                    by_namespace[namespace] = [r.id for r in page.records if r.id not in skip][:sample_size]
                    break
        done = 0
        for namespace, ids in by_namespace.items():
            for start in range(0, len(ids), page_size):
                records = await source.with_namespace(namespace).get(ids[start : start + page_size])
                await _compare_batch(records, namespace, destination, normalize, result)
                queries.extend((namespace, r) for r in records[: max(0, sample_queries - len(queries))])
                done += len(records)
                if on_progress is not None:
                    on_progress("verify", done, len(sample_ids) or None)
    elif mode == "full":
        done = 0
        for namespace in plan.namespaces:
            source_ids: set[str] = set()
            skip = exclusions.get(namespace, set())
            async for page in source.with_namespace(namespace).scan(page_size, filter=filter):
                kept = [r for r in page.records if r.id not in skip] if skip else page.records
                source_ids.update(r.id for r in kept)
                await _compare_batch(kept, namespace, destination, normalize, result)
                for record in kept:
                    if len(queries) < sample_queries:
                        queries.append((namespace, record))
                    elif sample_queries > 0 and rng.random() < 0.001:
                        queries[rng.randrange(sample_queries)] = (namespace, record)
                done += len(page.records)
                if on_progress is not None:
                    on_progress("verify", done, plan.total)
            seen: set[str] = set()
            async for page in destination.with_namespace(namespace).scan(page_size, include_vector=False):
                for record in page.records:
                    if record.id in seen:
                        result.mismatches.append(Mismatch("duplicate", namespace, record.id, "scanned twice"))
                    elif record.id in skip:
                        result.mismatches.append(
                            Mismatch("extra", namespace, record.id, "left out of the copy as unfit, yet present")
                        )
                    elif record.id not in source_ids:
                        result.mismatches.append(Mismatch("extra", namespace, record.id, "not in the source"))
                    seen.add(record.id)
    if mode in ("sample", "full") and sample_queries > 0:
        await _verify_queries(
            queries[:sample_queries],
            source,
            destination,
            filter,
            top_k,
            plan.destination_spec.metric,
            result,
            exclusions,
        )
    result.seconds = time.perf_counter() - started
    return result


async def migrate(
    source: Collection,
    destination: Collection,
    *,
    namespaces: Sequence[str] | None = None,
    filter: Filter | None = None,
    verify_mode: VerifyMode | str = "count",
    dry_run: bool = False,
    resume: bool = False,
    restart: bool = False,
    allow_metric_change: bool = False,
    allow_existing: bool = False,
    metric: str | Metric | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    page_size: int | None = None,
    writers: int = 4,
    queue_size: int | None = None,
    retries: int = 5,
    retry_delay: float = 0.5,
    sample_size: int = 1000,
    sample_queries: int = 20,
    top_k: int = 10,
    on_progress: ProgressCallback | None = None,
    on_plan: Callable[[MigrationPlan], None] | None = None,
    skip_unfit: bool = False,
) -> MigrationReport:
    """Copy ``source`` into ``destination`` (another or the same backend) and verify the copy.

    ``source`` and ``destination`` are collection handles (``store.collection(name)``); their own
    namespace is ignored: every namespace of the source is copied to the namespace of the same name,
    unless ``namespaces`` selects some. ``filter`` copies a subset. ``page_size`` defaults to the
    smaller of both backends' ``max_batch`` (at most 5,000). The destination collection is
    created with the source's facts when missing. Raises :class:`MigrationRefusedError` when the
    plan has errors (nothing written) and :class:`MigrationFailedError` when a write still fails
    after ``retries`` (the checkpoint keeps the progress: call again with ``resume=True``).
    Verification mismatches do not raise: ``report.succeeded`` is false and they are listed.

    Records the destination cannot hold whole (its record limits) refuse the run; with ``skip_unfit``
    they are left out instead, listed in ``report.skipped``, and verified as known exclusions.
    """
    if verify_mode not in VERIFY_MODES:
        raise InvalidArgumentError(f"verify must be one of {', '.join(VERIFY_MODES)}, got {verify_mode!r}")
    if page_size is None:  # big pages amortize per-request costs; bounded so memory stays small
        page_size = max(1, min(source.store.adapter.max_batch, destination.store.adapter.max_batch, 5000))
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidArgumentError(f"page_size must be a positive int, got {page_size!r}")
    if isinstance(writers, bool) or not isinstance(writers, int) or writers < 1:
        raise InvalidArgumentError(f"writers must be a positive int, got {writers!r}")
    plan = await plan_migration(
        source,
        destination,
        namespaces=namespaces,
        filter=filter,
        resume=resume,
        restart=restart,
        allow_metric_change=allow_metric_change,
        allow_existing=allow_existing,
        metric=metric,
        checkpoint_dir=checkpoint_dir,
        skip_unfit=skip_unfit,
    )
    if on_plan is not None:
        on_plan(plan)
    if dry_run:
        return MigrationReport(plan=plan, status="dry_run")
    if not plan.ok:
        raise MigrationRefusedError(plan)

    checkpoint_path = Path(plan.checkpoint_path)
    if restart:
        checkpoint_path.unlink(missing_ok=True)
    identity = {
        "source": plan.source,
        "destination": plan.destination,
        "collection": plan.collection,
        "to_collection": plan.to_collection,
        "filter": plan.filter,
        "namespaces_selected": list(namespaces) if namespaces else None,
    }
    resumed = plan.resume_from is not None
    checkpoint = (
        Checkpoint(checkpoint_path, plan.resume_from)
        if plan.resume_from is not None
        else Checkpoint.fresh(checkpoint_path, identity, plan.namespaces)
    )
    if not plan.destination_exists:
        spec = plan.destination_spec
        await destination.store.create_collection(
            destination.name,
            spec.dimension,
            spec.metric,
            index=spec.index,
            embedding_model=spec.embedding_model,
            exist_ok=True,
        )
    checkpoint.save()

    writer_count = max(1, min(writers, destination.store.adapter.max_concurrency))
    sample = _Sample(sample_size if verify_mode == "sample" else 0)
    report = MigrationReport(plan=plan, status="failed", resumed=resumed)
    started = time.perf_counter()
    if not checkpoint.copy_complete:
        try:
            # index builds deferred to the end where the destination supports it (pgvector: ~400x faster
            # loading); a killed run leaves the indexes dropped and the resumed run builds them at its end
            async with destination.bulk_load():
                report.copied = await _copy(
                    plan,
                    source,
                    destination,
                    checkpoint,
                    filter=filter,
                    page_size=page_size,
                    writers=writer_count,
                    queue_size=queue_size if queue_size is not None else 2 * writer_count,
                    retries=retries,
                    retry_delay=retry_delay,
                    sample=sample,
                    on_progress=on_progress,
                )
        except BaseExceptionGroup as group:
            first = _first_error(group)
            if not isinstance(first, Exception):
                raise
            report.copy_seconds = time.perf_counter() - started
            report.written_total = checkpoint.written
            report.error = f"{type(first).__name__}: {first}"
            raise MigrationFailedError(
                f"copy failed after retries, nothing skipped; {checkpoint.written} records are safely written and "
                f"the checkpoint {checkpoint.path} resumes from there: {report.error}",
                report,
            ) from first
        checkpoint.state["copy_complete"] = True
        checkpoint.save()
    report.copy_seconds = time.perf_counter() - started
    report.written_total = checkpoint.written

    report.verification = await verify(
        source,
        destination,
        verify_mode,
        plan=plan,
        filter=filter,
        sample_ids=sample.items,
        sample_size=sample_size,
        sample_queries=sample_queries,
        top_k=top_k,
        page_size=page_size,
        on_progress=on_progress,
    )
    if report.verification.ok:
        report.status = "succeeded"
        with contextlib.suppress(OSError):
            checkpoint.remove()
    else:
        report.error = f"verification found {len(report.verification.mismatches)} mismatches"
    return report


__all__ = [
    "Checkpoint",
    "MigrationFailedError",
    "MigrationPlan",
    "MigrationRefusedError",
    "MigrationReport",
    "Mismatch",
    "PageTracker",
    "PlanIssue",
    "UnfitRecord",
    "Verification",
    "compare_records",
    "metadata_differences",
    "migrate",
    "plan_migration",
    "verify",
]
