"""What a migration tells its caller: progress while it runs, and a :class:`MigrationReport` of the
outcome (plan, copy, verification) when it ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # annotations only: verify imports ProgressCallback from here, a runtime import back would cycle
    from vecbridge.migrate.plan import MigrationPlan, UnfitRecord
    from vecbridge.migrate.verify import Verification

ProgressCallback = Callable[[str, int, "int | None"], None]


@dataclass(slots=True)
class MigrationReport:
    """The outcome of :func:`migrate`; ``succeeded`` is true only when copy and verification succeeded."""

    plan: MigrationPlan
    status: Literal["dry_run", "succeeded", "failed"]
    resumed: bool = False
    copied: int = 0
    written_total: int = 0
    copy_seconds: float = 0.0
    verification: Verification | None = None
    error: str | None = None
    #: what the copy's reads of a native source left out, one line per key and reason (``Drops.lines``)
    left_out: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def skipped(self) -> list[UnfitRecord]:
        """Records left out of the copy because the destination cannot hold them (``skip_unfit``)."""
        return list(self.plan.unfit) if self.plan.skip_unfit and self.status != "dry_run" else []

    @property
    def rate(self) -> float:
        return self.copied / self.copy_seconds if self.copy_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "succeeded": self.succeeded,
            "resumed": self.resumed,
            "copied_this_run": self.copied,
            "written_total": self.written_total,
            "copy_seconds": round(self.copy_seconds, 3),
            "records_per_second": round(self.rate, 1),
            "error": self.error,
            "skipped_unfit": [asdict(record) for record in self.skipped],
            "left_out": self.left_out,
            "plan": self.plan.to_dict(),
            "verification": None if self.verification is None else self.verification.to_dict(),
        }
