"""The ``sync`` command (registered on the ``vecbridge`` group in :mod:`vecbridge.cli`).

Exit codes as for ``migrate``: 0 the pass and its verification succeeded (or a dry run's plan is
OK); 1 the pass failed or verification found mismatches; 2 refused before any write.
"""

from __future__ import annotations

import click

import vecbridge as vb
from vecbridge.cli_migrate import (
    ProgressDisplay,
    _print_plan,
    _run,
    _write_report,
    check_selection,
    console,
    exit_code,
    print_store_report,
    selected_collections,
    settle,
)
from vecbridge.migrate import VERIFY_MODES
from vecbridge.migrate.each import CollectionRun, Ledger, run_each
from vecbridge.migrate.sync import TALLIES, SyncReport, sync


def _print_sync_report(report: SyncReport) -> None:
    for namespace, tallies in report.namespaces.items():
        console.print(
            f"{namespace}: " + ", ".join(f"{tallies.get(tally, 0)} {tally}" for tally in TALLIES),
            highlight=False,
            markup=False,
        )
    kept = report.total("extra")
    if kept:
        console.print(f"{kept} destination records the source lacks were kept (--prune deletes them)", style="yellow")
    verification = report.verification
    if verification is not None and verification.mode != "none":
        counts = ", ".join(f"{ns} {c['source']}->{c['destination']}" for ns, c in verification.counts.items())
        console.print(
            f"verify {verification.mode}: counts {counts}; records {verification.records_matched}/"
            f"{verification.records_checked} match; queries {verification.queries_matched}/"
            f"{verification.queries_checked} agree; {len(verification.mismatches)} mismatches",
            highlight=False,
            markup=False,
        )
        for mismatch in verification.mismatches[:20]:
            console.print(
                f"  MISMATCH {mismatch.kind} namespace={mismatch.namespace} id={mismatch.id!r}: {mismatch.detail}",
                style="red",
                highlight=False,
                markup=False,
            )
    console.print(
        f"{report.changes} changes in {report.seconds:.1f} s; "
        + ("[green]sync succeeded[/green]" if report.succeeded else f"[red]sync FAILED:[/red] {report.error}")
    )


@click.command("sync")
@click.argument("src_url")
@click.argument("dst_url")
@click.option("--collection", "collections", multiple=True, help="Collection to sync (repeatable).")
@click.option("--all", "all_collections", is_flag=True, help="Every collection at the source, one after another.")
@click.option("--namespace", "namespaces", multiple=True, help="Sync only this namespace (repeatable; default: all).")
@click.option("--prune", is_flag=True, help="Delete destination records the source no longer has.")
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
@click.option("--resume", is_flag=True, help="Continue an interrupted pass from its checkpoint (else start over).")
@click.option("--verify", "verify_mode", type=click.Choice(VERIFY_MODES), default="count", show_default=True)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write a JSON report here.")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False), help="Where checkpoints live.")
@click.option("--page-size", type=int, help="Records per page (default: both backends' batch limit, <= 5000).")
@click.option("--writers", default=4, show_default=True, help="Concurrent destination writers.")
@click.option("--retries", default=5, show_default=True, help="Retries of a failed step before the pass stops.")
@click.option("--progress/--no-progress", "show_progress", default=None, help="Progress bar (default: on a TTY).")
def sync_command(
    src_url: str,
    dst_url: str,
    collections: tuple[str, ...],
    all_collections: bool,
    namespaces: tuple[str, ...],
    prune: bool,
    dry_run: bool,
    resume: bool,
    verify_mode: str,
    report_path: str | None,
    checkpoint_dir: str | None,
    page_size: int | None,
    writers: int,
    retries: int,
    show_progress: bool | None,
) -> None:
    """Bring collections at DST_URL to the current state of SRC_URL: upsert what is missing or
    differs (by content digest), with --prune delete what the source no longer has, then verify.

    A second sync with no change in between reports 0 changes. With several --collection options
    or --all each collection is synced and verified in turn; --resume skips those already verified.
    """
    check_selection(collections, all_collections)
    display = ProgressDisplay(show_progress)

    async def run() -> int:
        async with vb.connect(src_url) as source, vb.connect(dst_url) as destination:

            async def one(name: str) -> CollectionRun:
                return await settle(
                    name,
                    display,
                    lambda: sync(
                        source.collection(name),
                        destination.collection(name),
                        namespaces=list(namespaces) or None,
                        prune=prune,
                        verify_mode=verify_mode,
                        dry_run=dry_run,
                        resume=resume,
                        checkpoint_dir=checkpoint_dir,
                        page_size=page_size,
                        writers=writers,
                        retries=retries,
                        on_progress=display,
                        on_plan=_print_plan,
                    ),
                    dry_run,
                    _print_sync_report,
                )

            names = await selected_collections(source, collections, all_collections)
            if len(names) == 1 and not all_collections:
                single = await one(names[0])
                _write_report(report_path, single.report or {})
                return exit_code([single])
            ledger = None if dry_run else Ledger.for_run("sync", src_url, dst_url, checkpoint_dir)
            everything = await run_each(names, one, ledger, resume=resume)
            _write_report(report_path, everything.to_dict())
            print_store_report(everything, "sync")
            return exit_code(everything.runs)

    raise SystemExit(_run(run()))


COMMANDS = (sync_command,)
