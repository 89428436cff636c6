"""The ``migrate``, ``export`` and ``import`` commands (registered on the ``vecbridge`` group in :mod:`vecbridge.cli`).

Exit codes: 0 the copy and its verification succeeded (or a dry run's plan is OK); 1 the copy failed
or verification found mismatches; 2 refused before any write (plan errors, bad arguments).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

import vecbridge as vb
from vecbridge.cli_engine import check_engine_options, engine_session, load_re_embedding, ray_engine
from vecbridge.migrate import (
    VERIFY_MODES,
    MigrationFailedError,
    MigrationPlan,
    MigrationRefusedError,
    MigrationReport,
    migrate,
)
from vecbridge.migrate.each import CollectionRun, Ledger, StoreReport, collection_names, run_each
from vecbridge.migrate.errors import SyncFailedError
from vecbridge.transfer import export_parquet, import_parquet

T = TypeVar("T")
console = Console(soft_wrap=True)
err_console = Console(stderr=True)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    except vb.VecbridgeError as exc:
        err_console.print(f"[red]error:[/red] {type(exc).__name__}: {escape(str(exc))}")
        raise SystemExit(2) from None


class ProgressDisplay:
    """A rich progress bar (records/s, ETA) on a terminal; plain progress lines otherwise."""

    def __init__(self, enabled: bool | None, interval: float = 2.0) -> None:
        self.rich = console.is_terminal if enabled is None else enabled
        self.interval = interval
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._last: dict[str, float] = {}
        self._started: dict[str, tuple[float, int]] = {}
        self._final: dict[str, tuple[int, int | None]] = {}
        self._printed: dict[str, int] = {}

    @contextmanager
    def running(self) -> Iterator[ProgressDisplay]:
        if self.rich:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} rec/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
            )
            with self._progress:
                yield self
            self._progress = None
        else:
            yield self
            for phase, (done, total) in self._final.items():
                if self._printed.get(phase) != done:
                    self._line(phase, done, total)

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        started_at, started_done = self._started.setdefault(phase, (now, done))
        elapsed = max(now - started_at, 1e-9)
        rate = (done - started_done) / elapsed
        if self._progress is not None:
            if phase not in self._tasks:
                self._tasks[phase] = self._progress.add_task(phase, total=total, rate="0")
            self._progress.update(self._tasks[phase], completed=done, total=total, rate=f"{rate:,.0f}")
            return
        self._final[phase] = (done, total)
        if now - self._last.get(phase, 0.0) >= self.interval or (total is not None and done >= total):
            self._last[phase] = now
            self._line(phase, done, total)

    def _line(self, phase: str, done: int, total: int | None) -> None:
        started_at, started_done = self._started[phase]
        rate = (done - started_done) / max(time.monotonic() - started_at, 1e-9)
        of = f"/{total}" if total is not None else ""
        eta = ""
        if total is not None and rate > 0 and done < total:
            eta = f", ETA {(total - done) / rate:.0f} s"
        self._printed[phase] = done
        click.echo(f"{phase}: {done}{of} records ({rate:,.0f} records/s{eta})")
        sys.stdout.flush()


def _parse_filter(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--filter") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--filter")
    try:
        vb.parse_filter(value)
    except vb.InvalidFilterError as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from None
    return value


def _parse_layout(text: str | None, option: str) -> vb.Layout | None:
    try:
        return vb.Layout.parse(text)
    except vb.InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _print_plan(plan: MigrationPlan) -> None:
    for line in plan.lines():
        style = "red" if line.startswith(("ERROR", "plan: REFUSED")) else "yellow" if line.startswith("WARNING") else ""
        console.print(line, style=style or None, highlight=False, markup=False)


def _counts(counts: dict[str, int]) -> str:
    """``500->500``, or ``500-3 unfit->497`` when records were left out as unfit."""
    excluded = f"-{counts['excluded']} unfit" if counts.get("excluded") else ""
    return f"{counts['source']}{excluded}->{counts['destination']}"


def _search_recall(recall: dict[str, float] | None) -> str:
    """``; recall@10 source 0.97, destination 0.96`` (against exact search), or nothing."""
    if recall is None:
        return ""
    return f"; recall@{int(recall['k'])} source {recall['source']:.4f}, destination {recall['destination']:.4f}"


def _print_report(report: MigrationReport, max_mismatches: int = 20) -> None:
    console.print(
        f"copied {report.copied} records this run ({report.written_total} in total) in {report.copy_seconds:.1f} s "
        f"({report.rate:,.0f} records/s)",
        highlight=False,
    )
    skipped = report.skipped
    if skipped:
        console.print(
            f"left out {len(skipped)} records the destination cannot hold whole (--skip-unfit):",
            style="yellow",
            highlight=False,
        )
        for record in skipped[:max_mismatches]:
            console.print(
                f"  SKIPPED namespace={record.namespace} id={record.id!r} field={record.field}: {record.reason}",
                style="yellow",
                highlight=False,
                markup=False,
            )
        if len(skipped) > max_mismatches:
            console.print(f"  ... and {len(skipped) - max_mismatches} more (all in --report)", highlight=False)
    if report.left_out:
        console.print("left out while reading the source (values with no contract form):", style="yellow")
        for line in report.left_out:
            console.print(f"  LEFT OUT {line}", style="yellow", highlight=False, markup=False)
    verification = report.verification
    if verification is not None and verification.mode != "none":
        console.print(
            f"verify {verification.mode}: counts "
            + ", ".join(f"{ns} {_counts(c)}" for ns, c in verification.counts.items())
            + f"; records {verification.records_matched}/{verification.records_checked} match"
            + f"; queries {verification.queries_matched}/{verification.queries_checked} agree"
            + _search_recall(verification.search_recall)
            + f"; {len(verification.mismatches)} mismatches",
            highlight=False,
            markup=False,
        )
        for mismatch in verification.mismatches[:max_mismatches]:
            console.print(
                f"  MISMATCH {mismatch.kind} namespace={mismatch.namespace} id={mismatch.id!r}: {mismatch.detail}",
                style="red",
                highlight=False,
                markup=False,
            )
        if len(verification.mismatches) > max_mismatches:
            console.print(f"  ... and {len(verification.mismatches) - max_mismatches} more (all in --report)")
    console.print(
        "[green]migration succeeded[/green]" if report.succeeded else f"[red]migration FAILED:[/red] {report.error}"
    )


def check_selection(collections: tuple[str, ...], all_collections: bool, to_collection: str | None = None) -> None:
    """Refuse a selection of collections that names none, or both names some and says ``--all``."""
    if all_collections == bool(collections):
        raise click.BadParameter("name the collections with --collection (repeatable), or pass --all")
    if to_collection is not None and (all_collections or len(collections) > 1):
        raise click.BadParameter("--to-collection renames one collection: give a single --collection")


async def selected_collections(source: vb.Store, collections: tuple[str, ...], all_collections: bool) -> list[str]:
    """The collections a command moves: those named, or with ``--all`` every one at the source."""
    return await collection_names(source) if all_collections else list(dict.fromkeys(collections))


def exit_code(runs: list[CollectionRun]) -> int:
    """0 when every collection succeeded, 2 when refusals are the only problem, else 1."""
    outcomes = {run.outcome for run in runs} - {"succeeded", "verified_earlier"}
    return 0 if not outcomes else 2 if outcomes == {"refused"} else 1


def print_store_report(report: StoreReport, what: str) -> None:
    """One line per collection of a store-wide run."""
    styles = {"succeeded": "green", "verified_earlier": "green", "refused": "red", "failed": "red"}
    for run in report.runs:
        note = f": {run.error}" if run.error else ""
        console.print(
            f"{run.collection}: {run.outcome}{note}", style=styles[run.outcome], highlight=False, markup=False
        )
    done = sum(run.outcome in ("succeeded", "verified_earlier") for run in report.runs)
    console.print(f"{what}: {done} of {len(report.runs)} collections verified", highlight=False)


def _write_report(path: str | None, data: dict[str, Any]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.write("\n")


async def settle(
    name: str,
    display: ProgressDisplay,
    run: Callable[[], Awaitable[Any]],
    dry_run: bool,
    print_report: Callable[[Any], None],
) -> CollectionRun:
    """One collection's migrate or sync run as the store report records it: refused, failed or done."""
    try:
        with display.running():
            report = await run()
    except MigrationRefusedError as exc:
        err_console.print(f"[red]refused:[/red] {escape(str(exc))}")
        refused = {"status": "refused", "succeeded": False, "plan": exc.plan.to_dict()}
        return CollectionRun(name, "refused", refused, str(exc))
    except (MigrationFailedError, SyncFailedError) as exc:
        err_console.print(f"[red]failed:[/red] {escape(str(exc))}")
        return CollectionRun(name, "failed", exc.report.to_dict(), str(exc))
    if dry_run:
        return CollectionRun(name, "succeeded" if report.plan.ok else "refused", report.to_dict())
    print_report(report)
    return CollectionRun(name, "succeeded" if report.succeeded else "failed", report.to_dict(), report.error)


@click.command("migrate")
@click.argument("src_url")
@click.argument("dst_url")
@click.option("--collection", "collections", multiple=True, help="Source collection (repeatable).")
@click.option("--all", "all_collections", is_flag=True, help="Every collection at the source, one after another.")
@click.option("--to-collection", help="Destination collection (default: the same name; one --collection only).")
@click.option(
    "--from-layout",
    "from_layout",
    help="Read the source through this layout: JSON text, a JSON file or a preset name, e.g. "
    '\'{"document": "content", "namespace": "tenant_id"}\' (default: vecbridge\'s own collection, else the '
    "native collection's inferred layout; see docs/existing-data.md).",
)
@click.option(
    "--to-layout",
    "to_layout",
    help="Write the destination in this native shape (JSON text, a JSON file or a preset name): an existing "
    "native collection is opened writable, a missing one is created in that shape (default: a vecbridge collection).",
)
@click.option("--namespace", "namespaces", multiple=True, help="Copy only this namespace (repeatable; default: all).")
@click.option("--filter", "filter_json", help="Copy only records matching this JSON filter, e.g. '{\"year\": 2026}'.")
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its checkpoint.")
@click.option("--restart", is_flag=True, help="Discard an interrupted run's checkpoint and start over.")
@click.option("--verify", "verify_mode", type=click.Choice(VERIFY_MODES), default="count", show_default=True)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write a JSON report here.")
@click.option("--metric", type=click.Choice([m.value for m in vb.Metric]), help="Destination metric (a change).")
@click.option("--allow-metric-change", is_flag=True, help="Accept a destination metric other than the source's.")
@click.option("--allow-existing", is_flag=True, help="Accept a destination collection that already holds records.")
@click.option(
    "--skip-unfit",
    is_flag=True,
    help="Leave out records the destination cannot hold whole (its record limits) instead of refusing; "
    "they are listed in the plan and the report, and verification counts them as known exclusions.",
)
@click.option("--checkpoint-dir", type=click.Path(file_okay=False), help="Where checkpoints live.")
@click.option("--page-size", type=int, help="Records per source page (default: both backends' batch limit, <= 5000).")
@click.option("--writers", default=4, show_default=True, help="Concurrent destination writers.")
@click.option("--retries", default=5, show_default=True, help="Retries of a failed page before the run fails.")
@click.option("--sample-size", default=1000, show_default=True, help="Records compared by --verify sample.")
@click.option(
    "--engine",
    type=click.Choice(["process", "ray"]),
    default="process",
    show_default=True,
    help="Copy in this process, or in Ray tasks, one per partition of each namespace (pip install 'vecbridge[ray]').",
)
@click.option(
    "--ray-address",
    help="The Ray cluster to run on (--engine ray; default: a local Ray on 127.0.0.1 with this machine's cores).",
)
@click.option("--partitions", type=int, help="Partitions per namespace (--engine ray; default: the cluster's CPUs).")
@click.option(
    "--re-embed",
    "re_embed_ref",
    help="Replace every vector by module:function of its document (a list of documents -> a 2-d array); "
    "records without a document are refused by the plan. Needs --embedding-model.",
)
@click.option("--embedding-model", help="The model --re-embed stands for, recorded in the destination's facts.")
@click.option("--progress/--no-progress", "show_progress", default=None, help="Progress bar (default: on a TTY).")
def migrate_command(
    src_url: str,
    dst_url: str,
    collections: tuple[str, ...],
    all_collections: bool,
    to_collection: str | None,
    from_layout: str | None,
    to_layout: str | None,
    namespaces: tuple[str, ...],
    filter_json: str | None,
    dry_run: bool,
    resume: bool,
    restart: bool,
    verify_mode: str,
    report_path: str | None,
    metric: str | None,
    allow_metric_change: bool,
    allow_existing: bool,
    skip_unfit: bool,
    checkpoint_dir: str | None,
    page_size: int | None,
    writers: int,
    retries: int,
    sample_size: int,
    engine: str,
    ray_address: str | None,
    partitions: int | None,
    re_embed_ref: str | None,
    embedding_model: str | None,
    show_progress: bool | None,
) -> None:
    """Copy collections from SRC_URL to DST_URL, resumably, then verify each copy.

    With several --collection options or --all, each collection is planned, copied and verified in
    turn, with its own checkpoint; one that fails stops none of the others, and --resume skips the
    ones already verified and resumes the rest.
    """
    filter_ = _parse_filter(filter_json)
    source_layout = _parse_layout(from_layout, "--from-layout")
    destination_layout = _parse_layout(to_layout, "--to-layout")
    if resume and restart:
        raise click.BadParameter("--resume and --restart exclude each other")
    check_selection(collections, all_collections, to_collection)
    re_embed = load_re_embedding(re_embed_ref, embedding_model)
    check_engine_options(engine, ray_address, partitions)
    display = ProgressDisplay(show_progress)

    async def run() -> int:
        async with vb.connect(src_url) as source, vb.connect(dst_url) as destination:

            async def one(name: str) -> CollectionRun:
                return await settle(
                    name,
                    display,
                    lambda: migrate(
                        source.collection(name, layout=source_layout),
                        destination.collection(
                            to_collection or name,
                            layout=destination_layout,
                            writable=destination_layout is not None,
                        ),
                        namespaces=list(namespaces) or None,
                        filter=filter_,
                        verify_mode=verify_mode,
                        dry_run=dry_run,
                        resume=resume,
                        restart=restart,
                        allow_metric_change=allow_metric_change,
                        allow_existing=allow_existing,
                        skip_unfit=skip_unfit,
                        metric=metric,
                        checkpoint_dir=checkpoint_dir,
                        page_size=page_size,
                        writers=writers,
                        retries=retries,
                        sample_size=sample_size,
                        on_progress=display,
                        on_plan=_print_plan,
                        re_embed=re_embed,
                        engine=copy_engine,
                    ),
                    dry_run,
                    _print_report,
                )

            copy_engine = ray_engine(source, destination, partitions) if engine == "ray" and not dry_run else None
            names = await selected_collections(source, collections, all_collections)
            if len(names) == 1 and not all_collections:
                single = await one(names[0])
                _write_report(report_path, single.report or {})
                return exit_code([single])
            ledger = None if dry_run else Ledger.for_run("migrate", src_url, dst_url, checkpoint_dir)
            everything = await run_each(names, one, ledger, resume=resume)
            _write_report(report_path, everything.to_dict())
            print_store_report(everything, "migration")
            return exit_code(everything.runs)

    with engine_session("process" if dry_run else engine, ray_address):  # a plan needs no cluster
        code = _run(run())
    raise SystemExit(code)


@click.command("export")
@click.argument("url")
@click.argument("out_path", type=click.Path(dir_okay=False))
@click.option("--collection", required=True)
@click.option("--namespace", "namespaces", multiple=True, help="Export only this namespace (repeatable).")
@click.option("--filter", "filter_json", help="Export only records matching this JSON filter.")
@click.option("--progress/--no-progress", "show_progress", default=None)
def export_command(
    url: str,
    out_path: str,
    collection: str,
    namespaces: tuple[str, ...],
    filter_json: str | None,
    show_progress: bool | None,
) -> None:
    """Write a collection at URL to a Parquet file (id, vector, metadata JSON, document, namespace)."""
    filter_ = _parse_filter(filter_json)
    display = ProgressDisplay(show_progress)

    async def run() -> None:
        async with vb.connect(url) as store:
            with display.running():
                summary = await export_parquet(
                    store.collection(collection),
                    out_path,
                    namespaces=list(namespaces) or None,
                    filter=filter_,
                    on_progress=display,
                )
        console.print(f"exported {summary.total} records ({summary.counts}) to {out_path}", highlight=False)

    _run(run())


@click.command("import")
@click.argument("in_path", type=click.Path(exists=True, dir_okay=False))
@click.argument("url")
@click.option("--collection", help="Collection to create (default: the name stored in the file).")
@click.option("--namespace", "namespaces", multiple=True, help="Import only this namespace (repeatable).")
@click.option("--allow-existing", is_flag=True, help="Accept a collection that already holds records.")
@click.option("--progress/--no-progress", "show_progress", default=None)
def import_command(
    in_path: str,
    url: str,
    collection: str | None,
    namespaces: tuple[str, ...],
    allow_existing: bool,
    show_progress: bool | None,
) -> None:
    """Load a Parquet file written by 'vecbridge export' into URL."""
    display = ProgressDisplay(show_progress)

    async def run() -> int:
        async with vb.connect(url) as store:
            with display.running():
                summary = await import_parquet(
                    in_path,
                    store,
                    collection=collection,
                    namespaces=list(namespaces) or None,
                    allow_existing=allow_existing,
                    on_progress=display,
                )
        console.print(f"imported {summary.total} records ({summary.counts}) into {summary.collection.name!r}")
        for namespace, entry in summary.verified.items():
            if entry["expected"] != entry["actual"]:
                console.print(
                    f"[red]count mismatch[/red] in {namespace}: file {entry['expected']}, store {entry['actual']}"
                )
        return 0 if summary.ok else 1

    raise SystemExit(_run(run()))


COMMANDS = (migrate_command, export_command, import_command)
