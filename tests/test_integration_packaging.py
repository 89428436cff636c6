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
    "haystack": "haystack-ai<4,>=2.9",
    "langchain": "langchain-core<2,>=0.3",
    "llamaindex": "llama-index-core<0.15,>=0.12",
}


def _requires_dist(project: Path, destination: Path) -> list[str]:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(destination), str(project)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = destination.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        message = email.message_from_bytes(archive.read(metadata))
    return sorted(message.get_all("Requires-Dist") or [])


@pytest.mark.parametrize("framework", sorted(FRAMEWORK_REQUIREMENTS))
def test_a_wheel_built_in_the_checkout_requires_its_core_and_the_framework_only(framework: str, tmp_path: Path) -> None:
    requires = _requires_dist(ROOT / "integrations" / framework, tmp_path)
    assert requires == sorted([FRAMEWORK_REQUIREMENTS[framework], f"vecbridge @ {ROOT.as_uri()}"])
