"""Riding out a server that goes away and comes back during a long run (a restart, a reset connection).

Each call of a store already retries a transient failure a few times within about a second
(``vecbridge.store.with_retries``); a restart takes longer than that. Here a whole step (a page
written, a page read, a batch deleted) is retried with jittered exponential backoff over a budget
of ``retries`` attempts, about ``base_delay * 2**retries`` seconds in all, and a scan that failed
is reopened at the cursor of the last page it gave. Past the budget the error is raised: the run
stops with its checkpoint, and ``resume`` finishes it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from vecbridge.errors import ConsistencyTimeoutError, PartialWriteError, TransientBackendError, VecbridgeError
from vecbridge.filters import Filter
from vecbridge.store import Collection
from vecbridge.types import Page

T = TypeVar("T")

#: the longest single wait between two attempts, in seconds
MAX_DELAY = 30.0


def retryable(exc: BaseException) -> bool:
    """A failure worth retrying: transient, a write that was not seen in time, or a partial write caused by either."""
    if isinstance(exc, TransientBackendError | ConsistencyTimeoutError):
        return True
    if isinstance(exc, PartialWriteError):
        return isinstance(exc.__cause__, TransientBackendError | ConsistencyTimeoutError)
    return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` more attempts after the first, waiting ``base_delay * 2**attempt`` (x0.5-1.5, at most 30 s)."""

    retries: int = 5
    base_delay: float = 0.5

    def delay(self, attempt: int) -> float:
        return float(min(MAX_DELAY, self.base_delay * 2.0**attempt) * (0.5 + random.random()))

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` until it succeeds, a non-retryable error, or the budget is spent."""
        for attempt in range(self.retries + 1):
            try:
                return await operation()
            except VecbridgeError as exc:
                if attempt == self.retries or not retryable(exc):
                    raise
                await asyncio.sleep(self.delay(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def scan(
        self,
        collection: Collection,
        page_size: int,
        *,
        cursor: str | None = None,
        filter: Filter | None = None,
        include_vector: bool = True,
    ) -> AsyncIterator[Page]:
        """``collection.scan`` that reopens itself at its last cursor after a retryable failure.

        The budget counts failures in a row: a page read successfully renews it.
        """
        position, failures = cursor, 0
        while True:
            try:
                async for page in collection.scan(
                    page_size, cursor=position, filter=filter, include_vector=include_vector
                ):
                    failures = 0
                    yield page
                    position = page.cursor
                    if position is None:
                        return
                return
            except VecbridgeError as exc:
                if failures == self.retries or not retryable(exc):
                    raise
                await asyncio.sleep(self.delay(failures))
                failures += 1
