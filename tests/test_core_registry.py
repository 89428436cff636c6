"""URL scheme -> adapter: register(), then entry points, then the built-in table with install hints."""

import pytest

import vecbridge as vb
from vecbridge import registry
from vecbridge.memory import LocalAdapter, MemoryAdapter


def test_built_in_schemes_resolve_to_the_reference_engine() -> None:
    assert registry.adapter_for("memory") is MemoryAdapter
    assert registry.adapter_for("local") is LocalAdapter


def test_installed_adapter_distributions_are_found_through_entry_points() -> None:
    names = {ep.name for ep in registry.entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert {"pgvector", "chroma", "qdrant", "milvus", "pinecone", "weaviate"} <= names
    assert registry.adapter_for("qdrant").name == "qdrant"


def test_a_known_backend_whose_package_is_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "faiss", ("vecbridge_faiss_not_installed:FaissAdapter", "vecbridge-faiss"))
    with pytest.raises(vb.AdapterNotInstalledError, match="pip install vecbridge-faiss"):
        registry.adapter_for("faiss")


def test_an_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(vb.InvalidURLError) as caught:
        registry.adapter_for("nosuchdb")
    for scheme in ("memory", "local", "pgvector", "chroma", "qdrant", "milvus", "pinecone", "weaviate"):
        assert scheme in str(caught.value)


def test_register_adds_a_scheme_and_refuses_a_duplicate() -> None:
    registry.register("mytest", MemoryAdapter)
    try:
        assert registry.adapter_for("mytest") is MemoryAdapter
        with pytest.raises(ValueError, match="already registered"):
            registry.register("mytest", LocalAdapter)
    finally:
        registry.unregister("mytest")
