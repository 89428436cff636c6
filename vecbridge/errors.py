"""One error hierarchy for every backend.

Callers catch these, never a client library's own exceptions::

    VecbridgeError
    ├── InvalidURLError              bad URL, unknown scheme, adapter not installed
    │   └── AdapterNotInstalledError says the exact ``pip install`` to run
    ├── InvalidRecordError           bad id, vector (NaN, inf) or metadata; names record and field
    │   └── DimensionMismatchError   vector length differs from the collection's dimension
    ├── InvalidFilterError           malformed filter; names the path of the bad node
    ├── UnsupportedFilterError       well-formed, but this backend cannot express it exactly
    ├── UnsupportedFeatureError      an option or capability this backend lacks
    ├── InvalidArgumentError         a bad argument that is not a record or a filter (top_k=0, ...)
    ├── EmbeddingModelMismatchError  a collection used with vectors of another embedding model
    ├── CollectionNotFoundError
    ├── CollectionExistsError
    ├── BackendError                 the backend failed; the client's exception is kept as ``.orig``
    │   ├── TransientBackendError    worth retrying (timeouts, 429, 503); the core retries it
    │   └── ConsistencyTimeoutError  a write did not become visible within the bounded wait
    └── PartialWriteError            a multi-batch write failed midway; says which ids were written
"""

from __future__ import annotations

from collections.abc import Sequence


class VecbridgeError(Exception):
    """Base of every error vecbridge raises."""


class InvalidURLError(VecbridgeError, ValueError):
    """The connection URL cannot be parsed, or names no known backend."""


class AdapterNotInstalledError(InvalidURLError):
    """The URL names a known backend whose adapter distribution is not installed."""


class InvalidArgumentError(VecbridgeError, ValueError):
    """An argument outside the contract (``top_k=0``, an unknown metric, a bad collection name)."""


class InvalidRecordError(VecbridgeError, ValueError):
    """A record breaks the contract; nothing of the call was written."""

    def __init__(self, message: str, *, record_id: str | None = None, field: str | None = None) -> None:
        where = []
        if record_id is not None:
            where.append(f"record {record_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.record_id = record_id
        self.field = field


class DimensionMismatchError(InvalidRecordError):
    """A vector's length differs from the collection's dimension."""


class InvalidFilterError(VecbridgeError, ValueError):
    """A filter is malformed; ``path`` locates the bad node (e.g. ``$and[1].year.$gt``)."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"at {path or '<root>'}: {message}")
        self.path = path


class UnsupportedFilterError(VecbridgeError):
    """A valid filter that this backend cannot express exactly; raised before any request."""


class UnsupportedFeatureError(VecbridgeError):
    """An option or operation this backend does not offer."""


class EmbeddingModelMismatchError(VecbridgeError):
    """The collection was created for another embedding model; its vectors would not compare."""


class CollectionNotFoundError(VecbridgeError, LookupError):
    """The named collection does not exist."""


class CollectionExistsError(VecbridgeError):
    """A collection of that name already exists."""


class BackendError(VecbridgeError):
    """The backend failed; ``orig`` keeps the client's exception."""

    def __init__(self, message: str, *, orig: BaseException | None = None) -> None:
        super().__init__(message)
        self.orig = orig


class TransientBackendError(BackendError):
    """A failure that may succeed on retry (timeout, rate limit, unavailable)."""


class ConsistencyTimeoutError(BackendError):
    """A write was acknowledged but did not become readable within the bounded wait."""


class PartialWriteError(VecbridgeError):
    """Some batches of a write were applied and some were not.

    ``written_ids`` were acknowledged by the backend; ``unwritten_ids`` were not (they may or may
    not have been applied: retry them, upserts are idempotent). The cause is ``__cause__``.
    """

    def __init__(self, message: str, *, written_ids: Sequence[str], unwritten_ids: Sequence[str]) -> None:
        super().__init__(f"{message} ({len(written_ids)} written, {len(unwritten_ids)} not written)")
        self.written_ids = list(written_ids)
        self.unwritten_ids = list(unwritten_ids)
