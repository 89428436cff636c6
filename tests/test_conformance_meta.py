"""The suite must be able to fail: each broken variant of the reference adapter is caught.

For every variant in ``tests/broken_adapters.py`` the conformance group expected to catch it runs
(in-process, through ``pytester``) against the variant and must report at least one failure; the same
group on the unbroken reference engine must pass, so the failures come from the breakage.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import broken_adapters
import pytest
from click.testing import CliRunner

from vecbridge.cli import main

pytest_plugins = ["pytester"]

TESTS_DIR = Path(__file__).parent

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
MODULE = """
import sys
sys.path.insert(0, {tests_dir!r})
import broken_adapters
import pytest

broken_adapters.register_all()
from vecbridge_conformance import {group}


class TestTarget({group}):
    conformance_examples = 5

    @pytest.fixture
    def backend_url(self) -> str:
        return {url!r}
"""


@pytest.fixture(autouse=True)
def broken_schemes() -> Iterator[None]:
    """The broken-* schemes exist only while a meta-test runs."""
    broken_adapters.register_all()
    yield
    broken_adapters.unregister_all()


def run_group(pytester: pytest.Pytester, group: str, url: str) -> pytest.RunResult:
    pytester.makeini(INI)
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


def _summary_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.fullmatch(r"\d+ passed, \d+ failed, \d+ skipped", line)]


def test_cli_reports_a_passing_backend(tmp_path: Path) -> None:
    markdown = tmp_path / "report.md"
    result = CliRunner().invoke(main, ["conformance", "memory://", "--examples", "3", "--markdown", str(markdown)])
    assert result.exit_code == 0, result.output
    [summary] = _summary_lines(result.output)
    assert result.output.rstrip().endswith(summary)
    passed, failed, _skipped = (int(n) for n in re.findall(r"\d+", summary))
    assert passed >= 200 and failed == 0
    assert "memory lacks persistent" in result.output
    skip_lines = result.output.split("skipped:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert skip_lines and all(re.fullmatch(r"  \d+ x memory .+", line) for line in skip_lines), skip_lines
    text = markdown.read_text()
    assert "| group | passed | failed | skipped |" in text and summary in text


def test_cli_reports_a_broken_backend_and_exits_nonzero() -> None:
    result = CliRunner().invoke(main, ["conformance", "broken-merge://", "--examples", "2"])
    assert result.exit_code == 1, result.output
    [summary] = _summary_lines(result.output)
    assert int(re.findall(r"\d+", summary)[1]) >= 1
    assert "test_upsert_replaces_whole_record" in result.output


def test_cli_unknown_scheme_is_an_error() -> None:
    result = CliRunner().invoke(main, ["conformance", "nosuchdb://"])
    assert result.exit_code == 2
    assert "unknown scheme" in result.output


@pytest.mark.parametrize("variant", ["ne_excludes_missing", "bool_equals_number", "filtered_top_k_short"])
def test_differential_test_alone_catches_filter_bugs(pytester: pytest.Pytester, tmp_path: Path, variant: str) -> None:
    """The hypothesis differential test finds semantic filter bugs without any hand-picked case."""
    url = broken_adapters.url_for(variant, str(tmp_path / "data"))
    pytester.makeini(INI)
    pytester.makepyfile(test_target=MODULE.format(tests_dir=str(TESTS_DIR), group="DifferentialTests", url=url))
    result = pytester.runpytest_inprocess(
        "-q", "-p", "no:cacheprovider", "--tb=line", "--vecbridge-examples", "100", "--hypothesis-seed", "1"
    )
    assert result.parseoutcomes().get("failed", 0) == 1, result.outlines[-5:]


UNCONFIGURED = """
import pytest
from vecbridge_conformance import CountTests


class TestNoBackend(CountTests):
    pass
"""

KNOWN_BUGS = """
import pytest
from vecbridge_conformance import CountTests


class TestWithKnownBugs(CountTests):
    known_bugs = {"test_count_empty": "fixed long ago", "test_count_with_filter[range]": "also fixed"}

    @pytest.fixture
    def backend_url(self) -> str:
        return "memory://"
"""


def test_unconfigured_backend_is_an_error_not_a_skip(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_target=UNCONFIGURED)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", outcomes.get("error", 0)) >= 10 and "skipped" not in outcomes, outcomes
    result.stdout.fnmatch_lines(["*backend not configured*"])


def test_known_bugs_are_strict_xfails(pytester: pytest.Pytester) -> None:
    """A known bug that no longer happens fails the run, so the entry cannot go stale."""
    pytester.makeini(INI)
    pytester.makepyfile(test_target=KNOWN_BUGS)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-rf")
    assert result.parseoutcomes().get("failed") == 2
    result.stdout.fnmatch_lines(["*XPASS(strict)*known bug: fixed long ago*"])


def test_missing_capability_skip_names_adapter_and_capability(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_target=MODULE.format(tests_dir=str(TESTS_DIR), group="ConsistencyTests", url="memory://"))
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-rs")
    assert result.parseoutcomes().get("failed", 0) == 0
    result.stdout.fnmatch_lines(["*memory lacks shared_across_connections*", "*memory lacks persistent*"])


def test_cli_without_the_kit_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vecbridge_conformance.runner", None)  # import now fails
    result = CliRunner().invoke(main, ["conformance", "memory://"])
    assert result.exit_code == 2
    assert "pip install vecbridge-conformance" in result.output
