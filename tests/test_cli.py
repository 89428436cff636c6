"""The ``vecbridge`` command, run as a user would."""

import subprocess
import sys


def vecbridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vecbridge", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "160", "PATH": ""},
    )


def test_demo_prints_semantic_results_with_and_without_filters_and_in_two_namespaces() -> None:
    result = vecbridge("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Loaded 288 articles into namespace 'acme' and 96 into 'globex'" in out
    assert "billing-07" in out  # "my card keeps getting rejected" finds the card-declined article
    assert "filter={'category': 'account'}" in out and "account-01" in out
    assert "globex: 'my card keeps getting rejected'" in out


def test_info_lists_collections_of_a_local_store(tmp_path: object) -> None:
    import asyncio

    import vecbridge as vb

    async def make() -> None:
        async with vb.connect(f"local://{tmp_path}") as store:
            docs = await store.create_collection("docs", dimension=2, metric="dot", embedding_model="m")
            await docs.upsert([vb.Record("a", [1.0, 0.0])])

    asyncio.run(make())
    result = vecbridge("info", f"local://{tmp_path}")
    assert result.returncode == 0, result.stderr
    assert "docs" in result.stdout and "dot" in result.stdout and "default" in result.stdout


def test_a_bad_url_exits_2_with_a_clear_message() -> None:
    result = vecbridge("info", "nosuchdb://x")
    assert result.returncode == 2
    assert "known schemes" in result.stdout
