"""The ways :func:`~vecbridge.migrate.migrate` and :func:`~vecbridge.migrate.sync.sync` stop: refused by
their plan before any write, or failed after retries; each carries what the caller needs to act on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vecbridge.errors import VecbridgeError
from vecbridge.migrate.plan import MigrationPlan
from vecbridge.migrate.report import MigrationReport

if TYPE_CHECKING:  # sync imports these errors: a runtime import back would cycle
    from vecbridge.migrate.sync import SyncReport


class MigrationRefusedError(VecbridgeError):
    """The plan has blocking issues; nothing was written. ``plan`` says why."""

    def __init__(self, plan: MigrationPlan) -> None:
        reasons = "; ".join(issue.message for issue in plan.errors)
        super().__init__(f"migration refused before any write: {reasons}")
        self.plan = plan


class MigrationFailedError(VecbridgeError):
    """The copy failed after retries; the checkpoint holds what was written. ``report`` has the details."""

    def __init__(self, message: str, report: MigrationReport) -> None:
        super().__init__(message)
        self.report = report


class SyncFailedError(VecbridgeError):
    """A sync pass failed after retries; its checkpoint resumes it. ``report`` has the counts so far."""

    def __init__(self, message: str, report: SyncReport) -> None:
        super().__init__(message)
        self.report = report
