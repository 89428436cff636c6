"""Hatchling, with the core requirement chosen per build (PEP 517 in-tree backend).

A wheel built inside a vecbridge checkout depends on the core of that same checkout
(``vecbridge @ file:///...``), so ``pip install ./integrations/<framework>`` pulls the core (and no
adapter) although the core is not on a package index. Editable builds (``requirements-dev.txt``,
next to ``-e .``) and builds outside a checkout (an sdist, a release) depend on ``vecbridge>=0.1``.
(The same file in every ``integrations/*/``: a build backend cannot reach outside its project.)
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from hatchling import build as _hatchling
from hatchling.build import (
    build_editable,
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]

REQUIREMENT_VARIABLE = "VECBRIDGE_CORE_REQUIREMENT"  # read by hatch_build.py


def _pin_core_of_this_checkout() -> None:
    root = Path.cwd().resolve().parent.parent
    try:
        name = tomllib.loads((root / "pyproject.toml").read_text())["project"]["name"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return
    if name == "vecbridge":
        os.environ.setdefault(REQUIREMENT_VARIABLE, f" @ {root.as_uri()}")


def build_wheel(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    _pin_core_of_this_checkout()
    return _hatchling.build_wheel(wheel_directory, config_settings, metadata_directory)


if hasattr(_hatchling, "prepare_metadata_for_build_wheel"):  # hatchling leaves them out under pip
    __all__ += ["prepare_metadata_for_build_editable", "prepare_metadata_for_build_wheel"]
    prepare_metadata_for_build_editable = _hatchling.prepare_metadata_for_build_editable

    def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: dict[str, Any] | None = None) -> str:
        _pin_core_of_this_checkout()
        return _hatchling.prepare_metadata_for_build_wheel(metadata_directory, config_settings)
