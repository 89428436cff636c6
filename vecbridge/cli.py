"""The ``vecbridge`` command: demo, info, and the commands other modules add (migrate, conformance...)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

import vecbridge as vb

T = TypeVar("T")
console = Console()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning vecbridge errors into a clean message and exit code 2."""
    try:
        return asyncio.run(coroutine)
    except vb.VecbridgeError as exc:
        console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        raise SystemExit(2) from None


async def _check_reachable(url: str) -> None:
    async with vb.connect(url):
        pass


@click.group()
@click.version_option(vb.__version__, prog_name="vecbridge")
def main() -> None:
    """vecbridge: one async API for every vector database."""


@main.command()
@click.argument("url")
def info(url: str) -> None:
    """List the collections at URL with their facts and record counts."""

    async def show() -> None:
        async with vb.connect(url) as store:
            table = Table(title=f"collections at {store.url}")
            for column in ("name", "dimension", "metric", "index", "embedding model", "namespaces", "records"):
                table.add_column(column)
            for spec in await store.list_collections():
                described = await store.describe_collection(spec.name)
                namespaces = await store.list_namespaces(spec.name)
                table.add_row(
                    spec.name,
                    str(spec.dimension),
                    spec.metric.value,
                    spec.index.kind,
                    spec.embedding_model or "-",
                    ", ".join(namespaces) or "-",
                    str(described.count),
                )
            console.print(table)

    run_async(show())


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


def _add_transfer_commands() -> None:
    from vecbridge.cli_migrate import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_transfer_commands()
