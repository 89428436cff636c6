"""The ``vecbridge`` command: demo, info, and the commands other modules add (migrate, conformance...)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import vecbridge as vb
from vecbridge.layout import LAYOUT_KEYS

T = TypeVar("T")
console = Console()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning vecbridge errors into a clean message and exit code 2."""
    try:
        return asyncio.run(coroutine)
    except vb.VecbridgeError as exc:
        console.print(f"[red]error:[/red] {type(exc).__name__}: {escape(str(exc))}")
        raise SystemExit(2) from None


async def _check_reachable(url: str) -> None:
    async with vb.connect(url):
        pass


@click.group()
@click.version_option(vb.__version__, prog_name="vecbridge")
def main() -> None:
    """vecbridge: one async API for every vector database."""


#: keys of ``vecbridge info --json``, documented in docs/existing-data.md
INFO_HELP = """List every collection at URL: vecbridge's own and, where the backend reads them, the
collections it did not create (marked native, with the layout inferred for each and its fields).

\b
--json prints {"url": ..., "collections": [...]}, one object per collection with the keys:
  name, native (bool), preset (layout preset or null), dimension, metric ("unknown" when
  nothing in the store declares it), index, embedding_model, namespaces (list), records (int;
  for a layout that needs declaring, counted through its first candidates), layout (the
  layout's JSON form, as --from-layout takes it; null for vecbridge's own), fields (list of
  {name, type, role, note}), unfit (the fields that do not fit the contract, same keys),
  problem (null, or {message, role, candidates} when the layout cannot be inferred: declare
  one of the candidates with --from-layout).
"""


async def collection_entry(store: vb.Store, listed: vb.CollectionSpec) -> dict[str, Any]:
    """What ``info`` says about one listed collection (the ``--json`` form; the table shows the same)."""
    spec, problem = listed, None
    namespaces: list[str] = []
    records: int | None = None
    try:
        described = await store.describe_collection(listed.name)
    except vb.LayoutError as exc:  # listed, but its layout needs declaring: show why
        problem = {"message": str(exc), "role": exc.role, "candidates": list(exc.candidates)}
        records = await _count_any_choice(store, listed.name, exc)
    except vb.VecbridgeError as exc:
        if listed.layout is None:
            raise
        # one native collection the adapter cannot read must not hide the others
        problem = {"message": f"{type(exc).__name__}: {exc}", "role": None, "candidates": []}
    else:
        spec, records = described.spec, described.count
        namespaces = sorted(await store.adapter.list_namespaces(spec))
    layout = spec.layout
    metric = spec.metric.value if layout is None or layout.metric is not None else "unknown"
    return {
        "name": spec.name,
        "native": layout is not None,
        "preset": None if layout is None else layout.preset,
        "dimension": spec.dimension,
        "metric": metric,
        "index": spec.index.kind,
        "embedding_model": spec.embedding_model,
        "namespaces": namespaces,
        "records": records,
        "layout": None if layout is None else layout.to_dict(),
        "fields": [] if layout is None else [f.to_dict() for f in layout.fields],
        "unfit": [] if layout is None else [f.to_dict() for f in layout.unfit_fields()],
        "problem": problem,
    }


async def _count_any_choice(store: vb.Store, name: str, error: vb.LayoutError) -> int | None:
    """The record count of a collection whose layout is ambiguous: how many records there are does
    not depend on which candidate fills a role, so count through the first candidate of each."""
    chosen: dict[str, str] = {}
    for _ in range(len(LAYOUT_KEYS)):
        if error.role is None or not error.candidates or error.role in chosen:
            return None
        chosen[error.role] = error.candidates[0]
        try:
            return (await store.describe_collection(name, layout=chosen)).count
        except vb.LayoutError as again:
            error = again
    return None


def _print_collections(url: str, entries: list[dict[str, Any]]) -> None:
    table = Table(title=f"collections at {url}")
    for column in ("name", "native", "dimension", "metric", "index", "embedding model", "namespaces", "records"):
        table.add_column(column)
    for entry in entries:
        native = (entry["preset"] or "yes") if entry["native"] else "-"
        records = "?" if entry["records"] is None else str(entry["records"])
        table.add_row(
            escape(entry["name"]),
            escape(native),
            str(entry["dimension"]),
            entry["metric"],
            entry["index"],
            entry["embedding_model"] or "-",
            escape(", ".join(entry["namespaces"]) or "-"),
            records,
        )
    console.print(table)
    for entry in entries:
        if not entry["native"]:
            continue
        fields = Table(title=f"{escape(entry['name'])}: native fields", title_justify="left")
        for column in ("field", "type", "became", "note"):
            fields.add_column(column)
        for field in entry["fields"]:
            # field types such as list[str] are text, not rich markup
            fields.add_row(*(escape(field[key]) for key in ("name", "type", "role", "note")))
        console.print(fields)
        if entry["problem"] is None:
            console.print(f"  layout: {vb.Layout.from_dict(entry['layout']).describe()}", highlight=False, markup=False)
        for field in entry["unfit"]:
            console.print(
                f"  does not fit: {field['name']} ({field['type']}): {field['note']}",
                style="yellow",
                highlight=False,
                markup=False,
            )
        if entry["problem"] is not None:
            console.print(f"  layout not inferred: {entry['problem']['message']}", style="yellow", markup=False)


@main.command(help=INFO_HELP)
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (keys above) instead of tables.")
def info(url: str, as_json: bool) -> None:
    async def gather() -> tuple[str, list[dict[str, Any]]]:
        async with vb.connect(url) as store:
            listed = await store.list_collections(native=True)
            return store.url.render(), [await collection_entry(store, spec) for spec in listed]

    rendered, entries = run_async(gather())
    if as_json:
        click.echo(json.dumps({"url": rendered, "collections": entries}, indent=2, ensure_ascii=False))
    else:
        _print_collections(rendered, entries)


def _results_table(title: str, matches: list[vb.Match]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("score", justify="right")
    table.add_column("category")
    table.add_column("snippet")
    for match in matches:
        snippet = (match.document or "")[:60] + ("..." if len(match.document or "") > 60 else "")
        table.add_row(match.id, f"{match.score:.4f}", str(match.metadata.get("category", "")), snippet)
    return table


@main.command()
@click.option("--url", default="memory://", show_default=True, help="Store to run the demo on.")
@click.option("--top-k", default=3, show_default=True)
def demo(url: str, top_k: int) -> None:
    """Load help-center articles with real sentence embeddings and run semantic queries."""
    from vecbridge.demo import DIMENSION, EMBEDDING_MODEL, load_articles, load_queries

    async def run() -> None:
        articles = load_articles()
        async with vb.connect(url) as store:
            await store.drop_collection("help_center", missing_ok=True)
            acme = await store.create_collection(
                "help_center", DIMENSION, "cosine", embedding_model=EMBEDDING_MODEL, namespace="acme"
            )
            globex = acme.with_namespace("globex")
            await acme.upsert(articles)
            # a second tenant that only licensed the shipping and billing articles
            await globex.upsert([a for a in articles if a.metadata["category"] in ("shipping", "billing")])
            console.print(
                f"Loaded {await acme.count()} articles into namespace 'acme' and {await globex.count()} into "
                f"'globex' of collection 'help_center' on {store.url} ({EMBEDDING_MODEL}, {DIMENSION}-d, cosine)\n"
            )
            for query in load_queries():
                label = f"{query.text!r}" + (f"  filter={query.filter}" if query.filter else "")
                matches = await acme.query(query.vector, top_k=top_k, filter=query.filter)
                console.print(_results_table(f"acme: {label}", matches))
            first = load_queries()[0]
            for tenant in (acme, globex):
                matches = await tenant.query(first.vector, top_k=top_k, min_score=0.2)
                console.print(_results_table(f"{tenant.namespace}: {first.text!r} (min_score=0.2)", matches))
            await store.drop_collection("help_center")

    run_async(run())


@main.command()
@click.argument("url")
@click.option("--markdown", "markdown", type=click.Path(dir_okay=False), help="Also write the report as Markdown.")
@click.option("--examples", type=int, default=None, help="Hypothesis examples for the differential test.")
def conformance(url: str, markdown: str | None, examples: int | None) -> None:
    """Run the conformance suite against URL and print a per-group, per-capability report."""
    try:
        from vecbridge_conformance.runner import run
    except ImportError:
        console.print(
            "[red]error:[/red] the conformance kit is not installed; run: pip install vecbridge-conformance",
            soft_wrap=True,
        )
        raise SystemExit(2) from None
    run_async(_check_reachable(url))  # a backend that does not answer is one clean error, not 400 failed tests
    try:
        report = run(url, examples=examples)
    except vb.VecbridgeError as exc:
        console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        raise SystemExit(2) from None
    click.echo(report.render_text())
    if markdown:
        with open(markdown, "w", encoding="utf-8") as handle:
            handle.write(report.render_markdown())
    raise SystemExit(0 if report.ok else 1)


def _add_commands() -> None:
    from vecbridge import cli_audit, cli_migrate, cli_sync

    for command in (*cli_migrate.COMMANDS, *cli_sync.COMMANDS, *cli_audit.COMMANDS):
        main.add_command(command)


_add_commands()
