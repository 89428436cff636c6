"""The pytest plugin (entry point ``pytest11``): options, markers, and known-bug strict xfails."""

from __future__ import annotations

from collections.abc import Mapping

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vecbridge", "vecbridge conformance suite")
    group.addoption(
        "--vecbridge-url",
        dest="vecbridge_url",
        default=None,
        help="backend URL for conformance classes that do not override the backend_url fixture",
    )
    group.addoption(
        "--vecbridge-examples",
        dest="vecbridge_examples",
        type=int,
        default=None,
        help="hypothesis examples for the differential test (default: $VECBRIDGE_CONFORMANCE_EXAMPLES or 25)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vb_requires(*capabilities): skip unless the adapter has every capability")
    config.addinivalue_line("markers", "vb_uses(*capabilities): the expectation depends on these capabilities")


def pytest_sessionfinish(session: pytest.Session) -> None:
    from vecbridge_conformance.base import drop_shared_collections

    drop_shared_collections()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests named in a class's ``known_bugs`` become strict xfails: fixing the bug makes them fail."""
    for item in items:
        cls = getattr(item, "cls", None)
        bugs: Mapping[str, str] | None = getattr(cls, "known_bugs", None)
        if not bugs:
            continue
        name = getattr(item, "originalname", None) or item.name
        reason = bugs.get(item.name, bugs.get(name))
        if reason is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"known bug: {reason}"))
