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
