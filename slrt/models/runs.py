"""Background and bulk runs as the operator's metrics count them (reminder sweeps, set-up imports)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from slrt import clock
from slrt.models.base import Base


class JobRun(Base):
    """One kind of run: how many so far, how many failed, and the last one's moment, length and size."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    runs: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    last_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_seconds: Mapped[float] = mapped_column(default=0.0)
    #: What the last run handled: referrals reminded, rows imported.
    last_items: Mapped[int] = mapped_column(default=0)
    last_ok: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<JobRun {self.name} {self.runs}>"
