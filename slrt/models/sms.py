"""The SMS outbox and inbox, message templates, and the workers' heartbeat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from slrt import clock
from slrt.models.base import Base, enum_column
from slrt.models.enums import SmsAudience, SmsDirection, SmsEncoding, SmsStatus


class SmsMessage(Base):
    """One SMS, outbound (the outbox) or inbound (the inbox).

    An outbound row is written in the same transaction as the change that causes it,
    status pending; a worker claims and sends it after commit.
    """

    __tablename__ = "sms_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[SmsDirection] = mapped_column(enum_column(SmsDirection, "sms_direction"))
    audience: Mapped[SmsAudience] = mapped_column(enum_column(SmsAudience, "sms_audience"))
    #: The other end, E.164: recipient when outbound, sender when inbound.
    phone: Mapped[str] = mapped_column(String(16), index=True)
    #: Emptied after the retention period; the metadata stays for reports. A received one is cut
    #: to ``max_length`` (ten segments' worth).
    body: Mapped[str | None] = mapped_column(Text, info={"max_length": 1600})
    template_key: Mapped[str | None] = mapped_column(String(48), index=True)
    encoding: Mapped[SmsEncoding] = mapped_column(enum_column(SmsEncoding, "sms_encoding"))
    segments: Mapped[int]
    status: Mapped[SmsStatus] = mapped_column(enum_column(SmsStatus, "sms_status"), index=True)
    #: Which gateway carried it (twilio, android, console).
    gateway: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: The provider's error code (21211, 30007, ...) when it failed.
    error_code: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(String(255))
    #: Inbound: the notice key of the reply the command got (reply_done, reply_not_found, ...).
    reply_key: Mapped[str | None] = mapped_column(String(48))
    attempts: Mapped[int] = mapped_column(default=0)
    #: When a pending message may next be tried; the sweep picks it up then, unless the sending
    #: hours hold its audience (read from the settings at each sweep, never stored here). For a
    #: sent one with no final receipt: when to ask its provider next (None: not asked yet).
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Makes queuing idempotent: one message per (notice, subject, recipient, event).
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    #: The referral status the message was written for; changed since -> dropped as stale.
    expected_status: Mapped[str | None] = mapped_column(String(16))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("agency_contact.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    #: A resident notice accepted by a gateway that reports delivery: by this time a receipt
    #: should have come, else the facilitator is asked to call or visit.
    receipt_due_at: Mapped[datetime | None] = mapped_column(index=True)

    resident = relationship("Resident")
    case = relationship("Case")
    referral = relationship("Referral")
    contact = relationship("AgencyContact")
    #: Failed attempts, oldest first (a message that went out at once has none).
    failed_attempts = relationship("SmsAttempt", order_by="SmsAttempt.id",
                                   cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (Index("ix_sms_message_status_next_attempt_at", "status", "next_attempt_at"),)

    def __repr__(self) -> str:
        return f"<SmsMessage {self.id} {self.direction} {self.template_key} {self.status}>"


class SmsAttempt(Base):
    """One failed attempt at sending a message: the history behind its current status.

    The message row says where it stands now (a later success clears its error); what
    went wrong on the way, and on which gateway, stays here for the outbox screen.
    """

    __tablename__ = "sms_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("sms_message.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int]
    gateway: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<SmsAttempt {self.message_id}#{self.attempt} {self.error_code}>"


class SmsTemplate(Base):
    """A manager's edited text for one notice in one language; defaults live in code."""

    __tablename__ = "sms_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(48))
    language: Mapped[str] = mapped_column(String(2), default="id")
    body: Mapped[str] = mapped_column(Text, info={"max_length": 640})
    #: The provider filtered a message of this template as spam: review the wording.
    is_flagged: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)

    __table_args__ = (UniqueConstraint("key", "language"),)

    def __repr__(self) -> str:
        return f"<SmsTemplate {self.id} {self.key}/{self.language}>"


class SmsPause(Base):
    """All sending stopped because the provider suspended the account (Twilio 30002).

    Managers see a banner while a pause is open and lift it once the account is back;
    the rows stay as the history of outages.
    """

    __tablename__ = "sms_pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(String(16))
    #: The provider's code that caused it, and its message.
    code: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(255))
    paused_at: Mapped[datetime] = mapped_column(default=clock.now)
    #: Empty while sending is paused.
    resumed_at: Mapped[datetime | None] = mapped_column(index=True)
    resumed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)

    resumed_by = relationship("Staff")

    def __repr__(self) -> str:
        return f"<SmsPause {self.id} {self.code} {'open' if self.resumed_at is None else 'lifted'}>"


class Heartbeat(Base):
    """The last time a background process proved it is alive: each worker by its name, and beat."""

    __tablename__ = "heartbeat"

    #: The worker's node name (``celery worker -n worker1@%h``), or ``beat``.
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: ``worker`` or ``beat``.
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    #: Host and pid of the process that beat, for the operator.
    detail: Mapped[str | None] = mapped_column(String(120))

    def __repr__(self) -> str:
        return f"<Heartbeat {self.kind} {self.name} {self.at:%Y-%m-%d %H:%M:%S}>"
