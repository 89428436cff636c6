"""Each framework integration installs on its own: its wheel, built from this checkout (what
``pip install ./integrations/<framework>`` does), requires the core of the same checkout and the framework, no adapter."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_REQUIREMENTS = {
    "haystack": ("vecbridge_haystack", "haystack-ai<4,>=2.9"),
    "langchain": ("langchain_vecbridge", "langchain-core<2,>=0.3"),
    "llamaindex": ("llama_index_vector_stores_vecbridge", "llama-index-core<0.15,>=0.12"),
}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every integration's wheel, built by one pip run (as ``pip install ./integrations/<framework>`` builds it)."""
    destination = tmp_path_factory.mktemp("wheels")
    projects = [str(ROOT / "integrations" / framework) for framework in sorted(FRAMEWORK_REQUIREMENTS)]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(destination), *projects],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return destination


@pytest.mark.parametrize("framework", sorted(FRAMEWORK_REQUIREMENTS))
def test_a_wheel_built_in_the_checkout_requires_its_core_and_the_framework_only(framework: str, wheels: Path) -> None:
    distribution, framework_requirement = FRAMEWORK_REQUIREMENTS[framework]
    [wheel] = wheels.glob(f"{distribution}-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        requires = email.message_from_bytes(archive.read(metadata)).get_all("Requires-Dist") or []
    assert sorted(requires) == sorted([framework_requirement, f"vecbridge @ {ROOT.as_uri()}"])
