"""Everything a migration checks before its first write (facts, namespaces, counts, checkpoint, records
the destination cannot hold), gathered into a :class:`MigrationPlan` that either allows or refuses the run."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from vecbridge.adapter import Adapter, Capability
from vecbridge.errors import CollectionNotFoundError, InvalidArgumentError, InvalidRecordError, UnsupportedFilterError
from vecbridge.filters import Filter, format_filter, parse_filter
from vecbridge.layout import FieldRole, Layout, NativeField
from vecbridge.migrate.checkpoint import Checkpoint, checkpoint_key, default_checkpoint_dir
from vecbridge.migrate.compare import _type_tag
from vecbridge.migrate.reembed import ReEmbedding
from vecbridge.store import Collection
from vecbridge.types import DEFAULT_NAMESPACE, HNSW, CollectionSpec, Metric
from vecbridge.validation import check_collection_name

#: Page size of the plan's scan of the source against the destination's record limits.
FIT_SCAN_PAGE = 1000
#: Ids of unfit records quoted per field in a plan issue (the report lists them all).
UNFIT_IDS_SHOWN = 5


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
            "source_layout": _layout_dict(self.source_spec.layout),
            "destination_layout": _layout_dict(self.destination_spec.layout),
            "fields_not_mapped": [{"side": side, **native.to_dict()} for side, native, _ in self.fields_not_mapped()],
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
            f"metric:       {_metric_text(src)} -> {_metric_text(dst)}",
            f"index:        {src.index.kind} -> {dst.index.kind}",
            f"embedding:    {src.embedding_model or '-'} -> {dst.embedding_model or '-'}",
            f"source layout: {_layout_line(src.layout)}",
            f"destination layout: {_layout_line(dst.layout)}"
            + ("" if self.destination_exists or dst.layout is None else " (created in this shape)"),
            *(
                f"field:        {side} {native.name} ({native.type}): {fate}"
                for side, native, fate in self.fields_not_mapped()
            ),
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

    def fields_not_mapped(self) -> list[tuple[str, NativeField, str]]:
        """Every native field that is not copied as it is, or whose note says how it is read (a
        conversion rule, rows left unread): (``source``/``destination``, the field, its fate)."""
        found = []
        for side, layout in (("source", self.source_spec.layout), ("destination", self.destination_spec.layout)):
            verb = "not copied" if side == "source" else "not written"
            for native in () if layout is None else layout.fields:
                if native.role is FieldRole.UNFIT:
                    found.append((side, native, f"{verb}: {native.note}"))
                elif native.role is FieldRole.IGNORED:
                    found.append((side, native, f"ignored, {verb}" + (f": {native.note}" if native.note else "")))
                elif native.note:  # the conversion rule its values follow; rows it leaves unread
                    found.append((side, native, native.note))
        return found

    def _limits_line(self) -> str:
        if not self.fit_checked:
            return "the destination declares no record limits"
        if not self.unfit:
            return f"all {self.total} records fit the destination's record limits"
        fate = "left out of the copy (--skip-unfit)" if self.skip_unfit else "refuse the run"
        return f"{len(self.unfit)} of {self.total} records do not fit the destination and {fate}"


def _layout_dict(layout: Layout | None) -> dict[str, Any] | None:
    return None if layout is None else layout.to_dict()


def _metric_text(spec: CollectionSpec) -> str:
    return "unknown" if spec.layout is not None and spec.layout.metric is None else spec.metric.value


def _layout_line(layout: Layout | None) -> str:
    return "vecbridge's own" if layout is None else layout.describe()


async def _spec_if_exists(collection: Collection) -> CollectionSpec | None:
    """The destination's spec through its layout (vecbridge's own, else a native one), or ``None`` if missing."""
    try:
        return await collection.spec()
    except CollectionNotFoundError:
        return None


def _file_part(name: str) -> str:
    """A collection name as part of a file name: a native name may hold any character (``/`` too)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


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
    re_embed: ReEmbedding | None = None,
) -> MigrationPlan:
    """Everything :func:`migrate` checks before its first write; reads the source and destination only.

    When the destination declares record limits, every selected source record (matching ``filter``) is
    read once without its vector and checked with the destination's ``check_storable``. With
    ``re_embed`` the destination gets its model and dimension, and records without a document are
    unfit (nothing to re-embed).
    """
    source_store, destination_store = source.store, destination.store
    canonical = _canonical_filter(filter)
    source_spec = await source.spec()  # through the source's layout: declared, inferred, or vecbridge's own
    all_namespaces = sorted(await source_store.adapter.list_namespaces(source_spec))
    selected = list(dict.fromkeys(namespaces)) if namespaces else all_namespaces
    issues: list[PlanIssue] = []
    declared = destination.declared_layout
    key = checkpoint_key(
        source_store.url.render(),
        destination_store.url.render(),
        source.name,
        destination.name,
        namespaces,
        canonical,
        (_layout_dict(source_spec.layout), _layout_dict(declared)),
    )
    directory = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir()
    checkpoint_path = directory / f"{_file_part(source.name)}-to-{_file_part(destination.name)}-{key[:16]}.json"
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

    metric_known = source_spec.layout is None or source_spec.layout.metric is not None
    if not metric_known:
        issues.append(
            PlanIssue(
                "error",
                "metric_unknown",
                f"nothing in the source declares the metric of {source.name!r}, so scores and verification have no "
                'meaning; declare it, e.g. --from-layout \'{"metric": "cosine"}\' (cosine, dot or euclidean)',
            )
        )
    wanted_metric = Metric.parse(metric) if metric is not None else source_spec.metric
    wanted_dimension = source_spec.dimension if re_embed is None else re_embed.dimension
    wanted_model = source_spec.embedding_model if re_embed is None else re_embed.model
    if re_embed is not None:
        issues.append(
            PlanIssue(
                "warning",
                "re_embedding",
                f"vectors are replaced by {re_embed.reference} of each document ({re_embed.model}, "
                f"{re_embed.dimension}-d); verification compares the destination with the function's vectors",
            )
        )
    existing = await _spec_if_exists(destination)
    destination_exists = existing is not None
    destination_count = 0
    capabilities = destination_store.capabilities
    if existing is not None:
        destination_spec = existing
        destination_count = (await destination_store.describe_collection(destination.name, layout=declared)).count
        issues.extend(_native_destination_issues(destination.name, existing))
        if destination_spec.dimension != wanted_dimension:
            issues.append(
                PlanIssue(
                    "error",
                    "dimension",
                    f"destination dimension {destination_spec.dimension} differs from the copy's {wanted_dimension}",
                )
            )
        # a native destination records no embedding model: nothing to compare it with
        native_without_model = destination_spec.layout is not None and destination_spec.embedding_model is None
        if destination_spec.embedding_model != wanted_model and not native_without_model:
            issues.append(
                PlanIssue(
                    "error",
                    "embedding_model",
                    f"destination holds vectors of {destination_spec.embedding_model!r}, the copy writes vectors of "
                    f"{wanted_model!r}",
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
        shape = declared if declared is not None and declared.declares_roles else None
        if shape is not None and shape.metric is None:  # created with the source's metric unless it declares one
            shape = replace(shape, metric=wanted_metric)
        if shape is None:
            issues.extend(_portable_name_issues(destination.name))
        destination_spec = CollectionSpec(
            name=destination.name,
            dimension=wanted_dimension,
            metric=wanted_metric if shape is None or shape.metric is None else shape.metric,
            index=source_spec.index,
            embedding_model=wanted_model,
            layout=shape,
        )
    issues.extend(_namespace_issues(destination.name, destination_spec, destination_exists, counts))
    destination_metric_known = destination_spec.layout is None or destination_spec.layout.metric is not None
    if metric_known and destination_metric_known and destination_spec.metric != source_spec.metric:
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
    fit_checked = (destination_store.adapter.has_record_limits() or re_embed is not None) and not any(
        issue.code == "unsupported_filter" for issue in issues
    )
    if fit_checked:
        unfit = await _unfit_records(
            source, destination_store.adapter, destination_spec, selected, counts, filter, re_embed is not None
        )
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
    need_documents: bool = False,
) -> list[UnfitRecord]:
    """The selected source records ``adapter`` cannot hold whole (or, re-embedding, without a
    document), read without vectors."""
    found: list[UnfitRecord] = []
    for namespace in namespaces:
        if not counts.get(namespace):
            continue
        async for page in source.with_namespace(namespace).scan(FIT_SCAN_PAGE, filter=filter, include_vector=False):
            for record in page.records:
                if need_documents and record.document is None:
                    found.append(UnfitRecord(namespace, record.id, "document", "no document to re-embed"))
                    continue
                try:
                    adapter.check_storable(spec, record)
                except InvalidRecordError as exc:
                    found.append(UnfitRecord(namespace, record.id, exc.field or "record", _reason(exc)))
    return found


def _portable_name_issues(name: str) -> list[PlanIssue]:
    """A vecbridge collection needs a portable name; a native source's name may not be one."""
    try:
        check_collection_name(name)
    except InvalidArgumentError as exc:
        return [PlanIssue("error", "destination_name", f"{exc}; name the destination with --to-collection NAME")]
    return []


def _native_destination_issues(name: str, spec: CollectionSpec) -> list[PlanIssue]:
    """An existing destination vecbridge did not create is written only when opened writable, and
    verified only when its metric is known."""
    layout = spec.layout
    if layout is None:
        return []
    issues = []
    if not layout.writable:
        issues.append(
            PlanIssue(
                "error",
                "destination_read_only",
                f"destination collection {name!r} was not created by vecbridge; to write into it in its own shape, "
                "open it writable with --to-layout ('{}' writes through its inferred layout; or a preset name, "
                "JSON text or a file declaring it)",
            )
        )
    if layout.metric is None:
        issues.append(
            PlanIssue(
                "error",
                "destination_metric_unknown",
                f"nothing in the destination declares the metric of {name!r}; declare it, e.g. "
                '--to-layout \'{"metric": "cosine"}\'',
            )
        )
    return issues


def _namespace_issues(name: str, spec: CollectionSpec, exists: bool, counts: dict[str, int]) -> list[PlanIssue]:
    """A native destination without a namespace field holds one namespace (``default``): records of
    any other are refused before the first write, not at the copy."""
    layout = spec.layout
    others = sorted(ns for ns, count in counts.items() if count and ns != DEFAULT_NAMESPACE)
    if layout is None or layout.namespace is not None or not others:
        return []
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    fix = (
        'declare the namespace field it will have, e.g. --to-layout \'{"namespace": "tenant_id"}\''
        if not exists
        else 'declare its namespace field with --to-layout \'{"namespace": "FIELD"}\''
    )
    return [
        PlanIssue(
            "error",
            "destination_namespaces",
            f"destination collection {name!r} has no namespace field, so it holds only namespace "
            f"{DEFAULT_NAMESPACE!r}, and the source has records in {shown}; {fix}",
        )
    ]


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


async def prepared_destination(plan: MigrationPlan, destination: Collection) -> Collection:
    """The handle to write: ``destination``, created first with the planned facts when it is missing,
    in the planned shape (a native layout from ``--to-layout``, else vecbridge's own). The handle
    ``create_collection`` returns knows what describing may not yet (Chroma learns a collection's
    dimension from its first record)."""
    if plan.destination_exists:
        return destination
    spec = plan.destination_spec
    return await destination.store.create_collection(
        destination.name,
        spec.dimension,
        spec.metric,
        index=spec.index,
        embedding_model=spec.embedding_model,
        exist_ok=True,
        layout=spec.layout,
    )
