"""The distribution's dependencies: the vecbridge core plus those in ``[tool.hatch.metadata.hooks.custom]``.

Which core: ``build_backend.py`` sets ``VECBRIDGE_CORE_REQUIREMENT`` to the core of the same checkout
for a wheel built inside one; otherwise (editable installs next to ``-e .``, an sdist, a release) the
published ``vecbridge>=0.1``. (The same file in every ``integrations/*/``: a build backend cannot
reach outside its project.)
"""

from __future__ import annotations

import os
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface


class CoreRequirementHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        core = os.environ.get("VECBRIDGE_CORE_REQUIREMENT", ">=0.1")
        metadata["dependencies"] = [f"vecbridge{core}", *self.config.get("dependencies", [])]
