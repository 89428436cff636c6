"""The suite must be able to fail: each broken variant of the reference adapter is caught.

For every variant in ``tests/broken_adapters.py`` the conformance group expected to catch it runs
(in-process, through ``pytester``) against the variant and must report at least one failure; the same
group on the unbroken reference engine must pass, so the failures come from the breakage.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import broken_adapters

pytest_plugins = ["pytester"]

TESTS_DIR = Path(__file__).parent

MODULE = """
import sys
sys.path.insert(0, {tests_dir!r})
import broken_adapters  # registers the broken-* schemes
import pytest
from vecbridge_conformance import {group}


class TestTarget({group}):
    conformance_examples = 5

    @pytest.fixture
    def backend_url(self) -> str:
        return {url!r}
"""


def run_group(pytester: pytest.Pytester, group: str, url: str) -> pytest.RunResult:
    pytester.makepyfile(test_target=MODULE.format(tests_dir=str(TESTS_DIR), group=group, url=url))
    return pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "--tb=line", "-W", "ignore")


@pytest.mark.parametrize("variant", sorted(broken_adapters.VARIANTS))
def test_broken_variant_is_caught(pytester: pytest.Pytester, tmp_path: Path, variant: str) -> None:
    spec = broken_adapters.VARIANTS[variant]
    result = run_group(pytester, spec.group, broken_adapters.url_for(variant, str(tmp_path / "data")))
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, f"{variant} was not caught by {spec.group}: {outcomes}"
    assert outcomes.get("error", outcomes.get("errors", 0)) == 0, f"{variant}: errors instead of failures"
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("group", sorted({v.group for v in broken_adapters.VARIANTS.values()}))
def test_same_group_passes_on_the_reference(pytester: pytest.Pytester, tmp_path: Path, group: str) -> None:
    result = run_group(pytester, group, f"local://{tmp_path / 'data'}")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("passed", 0) > 0, outcomes
    assert result.ret == pytest.ExitCode.OK
