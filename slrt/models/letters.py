"""Referral letters (surat rujukan): the number each got from its unit's yearly sequence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from slrt import clock
from slrt.models.base import Base
from slrt.models.cases import Referral
from slrt.models.org import Staff, Unit


class ReferralLetter(Base):
    """The A4 letter of one referral: numbered once, on its first print, and the same on every reprint."""

    __tablename__ = "referral_letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: One letter per referral: printing it again shows the number it got the first time.
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), unique=True)
    #: The unit that wrote it (the case's unit): each unit numbers its own letters.
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    #: Calendar year of issue in the deployment's time zone: the sequence starts again at 1 each January.
    year: Mapped[int]
    #: Place in the unit's sequence for the year, from 1; the unique constraint keeps two prints at
    #: once from taking the same number.
    number: Mapped[int]
    #: The number as printed ("0042/SLRT/XII/2026"), kept so a reprint never changes it.
    reference: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)
    #: Who printed it first; empty when the system did (demo data).
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)

    referral: Mapped[Referral] = relationship()
    unit: Mapped[Unit] = relationship()
    issued_by: Mapped[Staff | None] = relationship()

    __table_args__ = (
        UniqueConstraint("unit_id", "year", "number"),
        CheckConstraint("number > 0", name="number_positive"),
    )

    def __repr__(self) -> str:
        return f"<ReferralLetter {self.id} {self.reference} referral={self.referral_id}>"
