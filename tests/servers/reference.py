"""The reference engine needs no server: ``memory://NAME`` and a temporary ``local://`` directory."""

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def local_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("local-store")
    yield f"local://{directory}"
