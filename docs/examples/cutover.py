"""A zero-downtime cut-over from one store to another, step by step (docs/cutover.md explains each step).

    python docs/examples/cutover.py OLD_URL NEW_URL WORK_DIR [COLLECTION]

e.g. ``pgvector://postgres@127.0.0.1:5432/app chroma://127.0.0.1:8000 /tmp/cutover``. The script plays
the application too: it keeps writing to the collection (``articles`` by default) while the store moves under it,
and checks at the end that the new store holds every write. tests/test_cutover_example.py runs it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np

import vecbridge as vb
from vecbridge.audit import audit

COLLECTION = sys.argv[4] if len(sys.argv) > 4 else "articles"
DIMENSION = 32


def article(i: int, version: int = 0) -> vb.Record:
    rng = np.random.default_rng([i, version])
    return vb.Record(
        id=f"a{i}",
        vector=rng.normal(size=DIMENSION).astype(np.float32),
        metadata={"topic": f"t{i % 4}", "version": version},
        document=f"article {i}, version {version}",
    )


async def application_writes(collection: vb.Collection, start: int, stop: int, version: int = 0) -> None:
    """What the application does meanwhile: new articles, edits, and a deletion."""
    await collection.upsert(article(i, version) for i in range(start, stop))
    await collection.delete(ids=[f"a{start}"])


async def main(old_url: str, new_url: str, work: Path) -> None:
    # 0. The application's store today (created here so the example runs anywhere).
    async with vb.connect(old_url) as old:
        articles = await old.create_collection(COLLECTION, DIMENSION, "cosine", exist_ok=True)
        await articles.upsert(article(i) for i in range(2_000))

    # 1. MIGRATE: copy a snapshot while the application keeps writing to the old store.
    async with vb.connect(old_url) as old, vb.connect(new_url) as new:
        # the source changes during the copy, so verifying it against the source now would list those writes as
        # mismatches: the sync of step 3 is the verification that counts
        copying = asyncio.create_task(
            vb.migrate(
                old.collection(COLLECTION),
                new.collection(COLLECTION),
                verify_mode="none",
                checkpoint_dir=work / "checkpoints",
            )
        )
        await application_writes(old.collection(COLLECTION), 2_000, 2_100)  # lands before or after the copy's scan
        report = await copying
        print(f"1. migrate: {report.status}, {report.copied} records copied")
        await application_writes(old.collection(COLLECTION), 0, 50, version=1)  # after the copy: not in the new store

    # 2. MIRROR: the application now writes through a mirrored store: old first, then new (replay log on failure).
    async with vb.mirror(old_url, new_url, log_dir=work / "replay-log", shadow_reads=0.5) as app_store:
        app = app_store.collection(COLLECTION)
        await application_writes(app, 2_100, 2_200, version=1)

        # 3. SYNC: catch up what the application wrote between the migration's snapshot and the mirror.
        async with vb.connect(old_url) as old, vb.connect(new_url) as new:
            synced = await vb.sync(
                old.collection(COLLECTION),
                new.collection(COLLECTION),
                prune=True,
                verify_mode="full",
                checkpoint_dir=work / "checkpoints",
            )
            print(f"3. sync: {synced.status}, {synced.changes} changes {synced.namespaces}")
            again = await vb.sync(
                old.collection(COLLECTION), new.collection(COLLECTION), prune=True, checkpoint_dir=work / "checkpoints"
            )
            print(f"   a second sync: {again.changes} changes (the stores are equal)")

        # 4. MEASURE: shadow reads compare both stores on live queries; audit measures the new store's recall.
        for i in range(0, 200, 4):
            await app.query(article(i).vector, top_k=10)
        await asyncio.sleep(0.5)  # shadow queries run in the background
        shadow = app_store.shadow
        print(f"4. shadow reads: {shadow.queries} queries, top-10 agreement {shadow.agreement:.3f}")
        async with vb.connect(new_url) as new:
            quality = await audit(new.collection(COLLECTION), sample=50)
            print(f"   audit of the new store: recall@10 {quality.filters[0].quality.recall:.3f}")

        # 5. SWITCH READS: the new store becomes the primary; the old one still receives every write.
        await app_store.drain(timeout=60)
        await app_store.switch()
        await application_writes(app, 2_200, 2_300, version=2)
        await app_store.drain(timeout=60)
        print(f"5. switched: reads from {app_store.url.render()}, {app_store.pending} writes pending")

    # 6. RETIRE: the application connects to the new store alone; the old one is kept until you drop it.
    async with vb.connect(old_url) as old, vb.connect(new_url) as new:
        # the old store is still an exact copy (a way back) until the mirror stops: a sync finds nothing to do
        check = await vb.sync(
            new.collection(COLLECTION), old.collection(COLLECTION), prune=True, checkpoint_dir=work / "checkpoints"
        )
        count = await new.collection(COLLECTION).count()
        print(f"6. retire: the new store holds {count} records; the old one differs by {check.changes} records")
        assert check.changes == 0 and count == 2_000 + 3 * 100 - 4, (check.changes, count)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
