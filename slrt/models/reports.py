"""Running totals behind the dashboard, kept by database triggers (migration 0010).

Counting a million cases on every dashboard load takes most of a second; these tables hold
the counts per unit and status instead, and triggers on ``case`` and ``referral`` move them
in the same transaction as the row they count, whoever writes it (the domain, an import or
a bulk SQL fill). ``slrt.reports.rebuild_summary`` recounts them from the rows.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from slrt.models.base import Base
from slrt.models.cases import Referral

#: The referral states counted as active, as SQL: the partial index below and the trigger-free
#: query that reads it must spell the same predicate for PostgreSQL to match them.
ACTIVE_REFERRAL_SQL = "status IN ('sent', 'accepted')"
#: Completed referrals whose resident was asked and has not answered yet (``Referral.is_unverified``).
ASKED_REFERRAL_SQL = "status = 'completed' AND resident_verification = 'asked'"


class CaseTally(Base):
    """How many cases of one unit are in one status."""

    __tablename__ = "case_tally"

    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<CaseTally unit={self.unit_id} {self.status} {self.cases}>"


class ReferralTally(Base):
    """How many referrals of one unit's cases, to one agency, are in one status."""

    __tablename__ = "referral_tally"

    #: The unit of the referral's case (a case moved to another unit moves its referrals' counts).
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    referrals: Mapped[int] = mapped_column(default=0)
    #: Of which escalated (``escalated_at`` set).
    escalated: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<ReferralTally unit={self.unit_id} agency={self.agency_id} {self.status} {self.referrals}>"


#: Active referrals not yet due, few at any time: overdue is "active minus these", so the
#: dashboard reads this small index instead of every active referral.
Index("ix_referral_due_at_active", Referral.due_at, Referral.agency_id, Referral.case_id,
      postgresql_where=text(ACTIVE_REFERRAL_SQL), sqlite_where=text(ACTIVE_REFERRAL_SQL))
#: Referrals waiting for the resident's answer, few: the dashboard's "unverified" reads them alone
#: instead of every completed referral.
Index("ix_referral_verification_asked_at_asked", Referral.verification_asked_at, Referral.case_id,
      postgresql_where=text(ASKED_REFERRAL_SQL), sqlite_where=text(ASKED_REFERRAL_SQL))
