"""Migration verify compares float metadata bit for bit, unless the destination declares that it cannot
keep floats exact (no ``Capability.EXACT_FLOATS``): then the report counts the values that differ and
says by how much, up to the destination's declared bound."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.migrate import compare_records, migrate
from vecbridge.migrate.compare import FloatDifferences, ulp_distance

#: Sevenths: a Chroma server returns about 20% of them one unit in the last place off.
COUNT = 1000


def sevenths() -> list[vb.Record]:
    vectors = np.random.default_rng(7).normal(size=(COUNT, 4)).astype(np.float32)
    return [vb.Record(id=f"r{i}", vector=vectors[i], metadata={"w": (i + 1) / 7}) for i in range(COUNT)]


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[vb.Collection]:
    async with vb.connect(f"local://{tmp_path / 'src'}") as store:
        collection = await store.create_collection("floats", 4, "cosine", index=vb.Flat())
        await collection.upsert(sevenths())
        yield collection


@pytest.mark.parametrize("target", ["memory", "pgvector"])
async def test_floats_arrive_bit_for_bit(
    source: vb.Collection, target: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = "memory://" if target == "memory" else request.getfixturevalue("pgvector_url")
    name = f"floats_{secrets.token_hex(4)}"
    async with vb.connect(url) as store:
        try:
            report = await migrate(source, store.collection(name), verify_mode="full", checkpoint_dir=tmp_path)
            verification = report.verification
            assert verification is not None and verification.ok
            assert verification.records_matched == COUNT
            assert verification.floats is None or verification.floats.count == 0
            copied = {r.id: r.metadata["w"] for r in await store.collection(name).get([f"r{i}" for i in range(COUNT)])}
            assert all(copied[f"r{i}"].hex() == ((i + 1) / 7).hex() for i in range(COUNT))
        finally:
            await store.drop_collection(name, missing_ok=True)


async def test_a_chroma_server_declares_its_float_differences_and_the_report_counts_them(
    source: vb.Collection, chroma_url: str, tmp_path: Path
) -> None:
    name = f"floats_{secrets.token_hex(4)}"
    async with vb.connect(chroma_url) as store:
        assert vb.Capability.EXACT_FLOATS not in store.capabilities
        try:
            report = await migrate(source, store.collection(name), verify_mode="full", checkpoint_dir=tmp_path)
            verification = report.verification
            assert verification is not None and verification.ok, verification and verification.mismatches[:3]
            floats = verification.floats
            assert floats is not None and floats.bound_ulps == 1
            copied = await store.collection(name).get([f"r{i}" for i in range(COUNT)])
            differing = [r for r in copied if r.metadata["w"].hex() != ((int(r.id[1:]) + 1) / 7).hex()]
            assert floats.count == len(differing) > 0
            assert floats.max_ulps == 1 and 0 < floats.max_relative < 3e-16
            assert verification.to_dict()["float_differences"]["count"] == floats.count
            assert str(floats).startswith(f"{floats.count} float values differ from the source, by at most 1 ulp")
        finally:
            await store.drop_collection(name, missing_ok=True)


def test_exact_comparison_flags_one_ulp_and_a_signed_zero() -> None:
    expected = vb.Record(id="a", vector=[1.0, 0.0], metadata={"w": 0.1 + 0.2, "z": -0.0})
    actual = vb.Record(id="a", vector=[1.0, 0.0], metadata={"w": 0.3, "z": 0.0})
    assert ulp_distance(expected.metadata["w"], actual.metadata["w"]) == 1
    [mismatch] = compare_records(expected, actual, "default", normalize=False)
    assert mismatch.kind == "metadata" and "w:" in mismatch.detail and "z:" in mismatch.detail
    within = FloatDifferences(bound_ulps=1)
    assert compare_records(expected, actual, "default", normalize=False, floats=within) == []
    assert (within.count, within.max_ulps) == (2, 1)
    beyond = vb.Record(id="a", vector=[1.0, 0.0], metadata={"w": 0.3 + 1e-15, "z": 0.0})
    assert compare_records(expected, beyond, "default", normalize=False, floats=FloatDifferences(bound_ulps=1))
