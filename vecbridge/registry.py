"""Which adapter serves a URL: ``register()`` first, then entry points, then the built-in hint table.

Third parties publish an entry point in the group ``vecbridge.adapters`` named after their scheme
(``mydb = "vecbridge_mydb:MyDbAdapter"``); nothing in the core has to change.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from vecbridge.adapter import Adapter
from vecbridge.errors import AdapterNotInstalledError, InvalidURLError

ENTRY_POINT_GROUP = "vecbridge.adapters"

#: Known backends: the core's own engines by import path, the rest by the distribution to install.
BUILTIN: dict[str, tuple[str, str]] = {
    "memory": ("vecbridge.memory:MemoryAdapter", "vecbridge"),
    "local": ("vecbridge.memory:LocalAdapter", "vecbridge"),
    "pgvector": ("vecbridge_pgvector:PgvectorAdapter", "vecbridge-pgvector"),
    "chroma": ("vecbridge_chroma:ChromaAdapter", "vecbridge-chroma"),
    "qdrant": ("vecbridge_qdrant:QdrantAdapter", "vecbridge-qdrant"),
    "milvus": ("vecbridge_milvus:MilvusAdapter", "vecbridge-milvus"),
    "pinecone": ("vecbridge_pinecone:PineconeAdapter", "vecbridge-pinecone"),
    "weaviate": ("vecbridge_weaviate:WeaviateAdapter", "vecbridge-weaviate"),
}

_registered: dict[str, type[Adapter]] = {}


def register(backend: str, adapter: type[Adapter], *, replace: bool = False) -> None:
    """Register an adapter class for a scheme in this process (tests, private backends)."""
    if backend in _registered and not replace:
        raise ValueError(f"an adapter is already registered for {backend!r}")
    _registered[backend] = adapter


def unregister(backend: str) -> None:
    _registered.pop(backend, None)


def known_schemes() -> list[str]:
    names = set(BUILTIN) | set(_registered) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def _load(target: str) -> type[Adapter]:
    module_name, _, attribute = target.partition(":")
    adapter = getattr(importlib.import_module(module_name), attribute)
    if not (isinstance(adapter, type) and issubclass(adapter, Adapter)):
        raise InvalidURLError(f"{target} is not a vecbridge Adapter subclass")
    return adapter


def adapter_for(backend: str) -> type[Adapter]:
    """The adapter class for a URL's backend name, or an error saying what to install."""
    if backend in _registered:
        return _registered[backend]
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == backend]
    if len(found) > 1:
        raise InvalidURLError(f"several installed packages register the scheme {backend!r}: {found}")
    if found:
        return _load(found[0].value)
    if backend in BUILTIN:
        target, distribution = BUILTIN[backend]
        try:
            return _load(target)
        except ImportError:
            raise AdapterNotInstalledError(
                f"the {backend!r} adapter is not installed; run: pip install {distribution}"
            ) from None
    raise InvalidURLError(f"unknown scheme {backend!r}; known schemes: {', '.join(known_schemes())}")
