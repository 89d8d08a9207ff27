"""Reminder digests: which referrals one reminder SMS listed, and in which order.

The numbering is frozen when the digest is written, so an agency's "SELESAI 2" always
means what that digest listed second, whatever has changed since.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from slrt import clock
from slrt.models.base import Base


class ReminderDigest(Base):
    """One reminder SMS to one agency contact, listing that agency's waiting referrals."""

    __tablename__ = "reminder_digest"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("agency_contact.id"), index=True)
    #: The SMS that carried it (the outbox row).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("sms_message.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    contact = relationship("AgencyContact")
    message = relationship("SmsMessage")
    items: Mapped[list[ReminderDigestItem]] = relationship(
        back_populates="digest", cascade="all, delete-orphan", order_by="ReminderDigestItem.position"
    )

    def __repr__(self) -> str:
        return f"<ReminderDigest {self.id} contact={self.contact_id} items={len(self.items)}>"


class ReminderDigestItem(Base):
    """The referral a digest listed at ``position`` (1, 2, ...)."""

    __tablename__ = "reminder_digest_item"

    digest_id: Mapped[int] = mapped_column(ForeignKey("reminder_digest.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)

    digest: Mapped[ReminderDigest] = relationship(back_populates="items")
    referral = relationship("Referral")

    def __repr__(self) -> str:
        return f"<ReminderDigestItem {self.digest_id}/{self.position} referral={self.referral_id}>"
