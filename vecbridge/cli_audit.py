"""The ``audit`` and ``tune`` commands (registered on the ``vecbridge`` group in :mod:`vecbridge.cli`).

Exit codes: 0 done (``tune``: a setting meets the target); 1 ``tune`` found no setting that meets
it; 2 refused (bad arguments, a knob the backend lacks, an unreachable store).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

import vecbridge as vb
from vecbridge.audit import AuditReport, TuneReport, audit, tune
from vecbridge.audit.plot import Series, write_plot

T = TypeVar("T")
console = Console(soft_wrap=True)
err_console = Console(stderr=True)

JSON_KEYS_HELP = "Keys of --json are documented in docs/search-quality.md."


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    except vb.VecbridgeError as exc:
        err_console.print(f"[red]error:[/red] {type(exc).__name__}: {escape(str(exc))}")
        raise SystemExit(2) from None


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    """A ``(stage, done, total)`` callback: rich bars on a terminal, a line per stage and 10 % otherwise."""
    if not enabled:
        yield None
        return
    if err_console.is_terminal:
        tasks: dict[str, TaskID] = {}
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        ) as bars:

            def update(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bars.add_task(stage, total=total)
                bars.update(tasks[stage], completed=done, total=total)

            yield update
        return
    reported: dict[str, float] = {}

    def line(stage: str, done: int, total: int | None) -> None:
        share = done / total if total else 0.0
        if stage not in reported or share - reported[stage] >= 0.1 or done == total:
            reported[stage] = share
            print(f"{stage}: {done}" + (f"/{total}" if total else ""), file=sys.stderr, flush=True)

    yield line


def _parse_filters(given: tuple[str, ...]) -> list[Any]:
    filters: list[Any] = []
    for text in given:
        try:
            filters.append(json.loads(text))
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--filter") from None
    return filters


def _concurrency(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: use comma-separated ints, e.g. 1,4,16", param_hint="--concurrency"
        ) from None
    if not levels or any(level < 1 for level in levels):
        raise click.BadParameter(f"{text!r}: levels must be >= 1", param_hint="--concurrency")
    return levels


def _search(ef: int | None, probes: int | None, exact: bool) -> vb.SearchParams | None:
    if ef is None and probes is None and not exact:
        return None
    return vb.SearchParams(ef=ef, probes=probes, exact=exact)


def print_audit(report: AuditReport) -> None:
    console.print(
        f"audit of {report.collection!r} (namespace {report.namespace!r}) on {report.url}: {report.queries} queries "
        f"({report.query_source}), k={report.k}, metric {report.metric}, search "
        f"{report.search or 'backend default'}; exact answers in {report.ground_truth_seconds:.2f} s"
    )
    table = Table(show_lines=False)
    for column in ("filter", "matching", "recall@k", "nDCG@k", "score err max", "short", "conc.", "p50 ms"):
        table.add_column(column, justify="left" if column == "filter" else "right")
    table.add_column("p95 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("q/s", justify="right")
    for result in report.filters:
        quality = result.quality
        for number, latency in enumerate(result.latency):
            first = number == 0
            table.add_row(
                json.dumps(result.filter) if first and result.filter else ("none" if first else ""),
                f"{result.matching_mean:.0f}" if first else "",
                f"{quality.recall:.4f}" if first else "",
                f"{quality.ndcg:.4f}" if first else "",
                f"{quality.score_error_max:.2g}" if first else "",
                f"{quality.short_answers:.1%}" if first else "",
                str(latency.concurrency),
                f"{latency.p50_ms:.2f}",
                f"{latency.p95_ms:.2f}",
                f"{latency.p99_ms:.2f}",
                f"{latency.throughput_qps:.0f}",
            )
    console.print(table)


def print_tune(report: TuneReport) -> None:
    console.print(
        f"tuning {report.knob} of {report.collection!r} on {report.url}: {report.queries} queries, k={report.k}, "
        f"target recall {report.target_recall}" + (f", p95 <= {report.max_p95_ms} ms" if report.max_p95_ms else "")
    )
    table = Table()
    for column in (report.knob, "recall@k", "short", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for point in report.curve:
        marker = " <" if point.setting == report.chosen else ""
        table.add_row(
            f"{point.setting[report.knob]}{marker}",
            f"{point.recall:.4f}",
            f"{point.short_answers:.1%}",
            f"{point.latency.p50_ms:.2f}",
            f"{point.latency.p95_ms:.2f}",
            f"{point.latency.p99_ms:.2f}",
        )
    console.print(table)
    verdict = f"chosen: {report.chosen}" if report.chosen else "no setting meets the target"
    console.print(f"{verdict} ({report.reason})" + ("; applied as the collection's default" if report.applied else ""))


_common = [
    click.argument("url"),
    click.option("--collection", "collection_name", required=True, help="Collection to measure."),
    click.option("--namespace", default=vb.DEFAULT_NAMESPACE, show_default=True),
    click.option(
        "--layout", default=None, help="Layout of a collection vecbridge did not create (JSON, file, preset)."
    ),
    click.option("--queries", "queries_file", default=None, help="Query vectors: .npy, .parquet or .jsonl."),
    click.option("--sample", default=100, show_default=True, help="Queries drawn from the collection's own vectors."),
    click.option("--seed", default=0, show_default=True),
    click.option("-k", "--top-k", "k", default=10, show_default=True),
    click.option("--json", "json_file", default=None, help=f"Write the report as JSON to this file. {JSON_KEYS_HELP}"),
    click.option("--plot", "plot_file", default=None, help="Write recall against latency to a .svg or .png file."),
    click.option("--progress/--no-progress", default=True, show_default=True),
]


def _with_common(function: Any) -> Any:
    for decorator in reversed(_common):
        function = decorator(function)
    return function


@click.command("audit")
@_with_common
@click.option(
    "--filter", "filters", multiple=True, help="A filter (JSON) to audit besides the unfiltered queries; repeatable."
)
@click.option("--concurrency", default="1", show_default=True, help="Comma-separated concurrency levels.")
@click.option("--ef", type=int, default=None, help="Query-time ef for every query (SearchParams).")
@click.option("--probes", type=int, default=None, help="Query-time IVF probes for every query.")
@click.option("--exact", is_flag=True, help="Ask the backend for brute-force search.")
def audit_command(
    url: str,
    collection_name: str,
    namespace: str,
    layout: str | None,
    queries_file: str | None,
    sample: int,
    seed: int,
    k: int,
    json_file: str | None,
    plot_file: str | None,
    progress: bool,
    filters: tuple[str, ...],
    concurrency: str,
    ef: int | None,
    probes: int | None,
    exact: bool,
) -> None:
    """Recall@k, nDCG@k, score agreement and latency percentiles of URL's answers against exact search."""
    parsed_filters = [None, *_parse_filters(filters)]  # the unfiltered baseline, then each filter
    levels = _concurrency(concurrency)

    async def run(update: Any) -> AuditReport:
        async with vb.connect(url) as store:
            collection = store.collection(collection_name, namespace, layout=layout)
            return await audit(
                collection,
                queries=queries_file,
                sample=sample,
                seed=seed,
                k=k,
                filters=parsed_filters,
                concurrency=levels,
                search=_search(ef, probes, exact),
                progress=update,
            )

    started = time.perf_counter()
    with _progress(progress) as update:
        report = _run(run(update))
    print_audit(report)
    if json_file:
        with open(json_file, "w", encoding="utf-8") as handle:
            json.dump(report.to_dict(), handle, indent=2)
    if plot_file:
        series: list[Series] = [
            (
                "none" if r.filter is None else json.dumps(r.filter)[:40],
                [(lat.p50_ms, r.quality.recall, f"c={lat.concurrency}") for lat in r.latency],
            )
            for r in report.filters
        ]
        write_plot(plot_file, f"{report.collection}: recall@{report.k} vs p50 latency", series)
    console.print(f"done in {time.perf_counter() - started:.1f} s")


@click.command("tune")
@_with_common
@click.option("--target-recall", type=float, required=True, help="Recall@k to reach, e.g. 0.95.")
@click.option("--max-p95-ms", type=float, default=None, help="Also require p95 latency at most this.")
@click.option("--knob", type=click.Choice(["ef", "probes"]), default=None, help="Default: ef where offered.")
@click.option("--values", default=None, help="Comma-separated settings to try (default: a standard sweep).")
@click.option("--filter", "filter_text", default=None, help="Tune for queries with this filter (JSON).")
@click.option("--apply", is_flag=True, help="Store the chosen setting as the collection's default.")
def tune_command(
    url: str,
    collection_name: str,
    namespace: str,
    layout: str | None,
    queries_file: str | None,
    sample: int,
    seed: int,
    k: int,
    json_file: str | None,
    plot_file: str | None,
    progress: bool,
    target_recall: float,
    max_p95_ms: float | None,
    knob: str | None,
    values: str | None,
    filter_text: str | None,
    apply: bool,
) -> None:
    """Sweep the backend's query-time knob (ef or probes) and name the smallest setting meeting the target."""
    settings = _concurrency(values) if values else None
    filter_ = _parse_filters((filter_text,))[0] if filter_text else None

    async def run(update: Any) -> TuneReport:
        async with vb.connect(url) as store:
            collection = store.collection(collection_name, namespace, layout=layout)
            return await tune(
                collection,
                target_recall=target_recall,
                max_p95_ms=max_p95_ms,
                knob=knob,
                values=settings,
                queries=queries_file,
                sample=sample,
                seed=seed,
                k=k,
                filter=filter_,
                apply=apply,
                progress=update,
            )

    with _progress(progress) as update:
        report = _run(run(update))
    print_tune(report)
    if json_file:
        with open(json_file, "w", encoding="utf-8") as handle:
            json.dump(report.to_dict(), handle, indent=2)
    if plot_file:
        points = [(p.latency.p50_ms, p.recall, f"{report.knob}={p.setting[report.knob]}") for p in report.curve]
        write_plot(plot_file, f"{report.collection}: recall@{report.k} by {report.knob}", [(report.knob, points)])
    raise SystemExit(0 if report.chosen is not None else 1)


COMMANDS = (audit_command, tune_command)
