"""Cases, their needs and referrals, and the timeline of events."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import JSON, CheckConstraint, ColumnElement, ForeignKey, Index, String, Text, and_
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from slrt import clock
from slrt.models.base import Base, enum_column
from slrt.models.catalog import Agency, AgencyContact, Service
from slrt.models.enums import (
    REFERRAL_ACTIVE,
    CaseStatus,
    Channel,
    EscalationRung,
    EventKind,
    FollowUpReason,
    FollowUpStatus,
    Outcome,
    ReferralStatus,
    ResidentVerification,
    Urgency,
)
from slrt.models.org import Staff, Unit
from slrt.models.people import Resident


class Case(Base):
    """One complaint or need of a resident, from intake to closure."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Digits with a Verhoeff check digit (482137 is shown 48213-7); the resident's handle.
    ticket: Mapped[str] = mapped_column(String(16), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "case_channel"), index=True)
    #: What the resident said, in their words as noted at intake (``max_length``: see slrt.text).
    summary: Mapped[str] = mapped_column(Text, info={"max_length": 2000})
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency, "case_urgency"), default=Urgency.NORMAL)
    status: Mapped[CaseStatus] = mapped_column(
        enum_column(CaseStatus, "case_status"), default=CaseStatus.OPEN, index=True
    )
    #: The staff member following the case.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, "case_outcome"))
    #: Closing remarks, or why the case was cancelled.
    outcome_note: Mapped[str | None] = mapped_column(Text, info={"max_length": 1000})
    #: Optimistic lock: two concurrent moves on one case cannot both be saved.
    version: Mapped[int] = mapped_column(default=1)

    resident: Mapped[Resident] = relationship()
    unit: Mapped[Unit] = relationship()
    assignee: Mapped[Staff | None] = relationship(foreign_keys=[assignee_id])
    opened_by: Mapped[Staff] = relationship(foreign_keys=[opened_by_id])
    needs: Mapped[list[CaseNeed]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseNeed.id"
    )
    referrals: Mapped[list[Referral]] = relationship(back_populates="case", order_by="Referral.id")
    #: The timeline, oldest first.
    events: Mapped[list[Event]] = relationship(back_populates="case", order_by="(Event.at, Event.id)",
                                               viewonly=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_case_unit_id_status_opened_at", "unit_id", "status", "opened_at"),
        #: A unit's case list in its order (newest first, then id): deep pages read ids from it alone.
        Index("ix_case_unit_id_opened_at_id", "unit_id", "opened_at", "id"),
    )

    def __repr__(self) -> str:
        return f"<Case {self.id} {self.ticket} {self.status}>"


class CaseNeed(Base):
    """An item of the service catalogue a case asks for; each gets a referral."""

    __tablename__ = "case_need"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(255))

    case: Mapped[Case] = relationship(back_populates="needs")
    service: Mapped[Service] = relationship()

    def __repr__(self) -> str:
        return f"<CaseNeed {self.id} case={self.case_id} service={self.service_id}>"


class Referral(Base):
    """A case's request to one agency for one service, followed until it ends."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Digits with a Verhoeff check digit; what agencies quote in SMS replies.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    status: Mapped[ReferralStatus] = mapped_column(
        enum_column(ReferralStatus, "referral_status"), default=ReferralStatus.SENT, index=True
    )
    #: End of the last working day of the SLA; "overdue" is derived from it, not a state.
    due_at: Mapped[datetime] = mapped_column(index=True)
    #: Codes of the required documents staff saw at referral time.
    documents_checked: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    sent_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    accepted_at: Mapped[datetime | None]
    #: Last "in process" answer from the agency: pauses escalation.
    in_process_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    #: Last time it came back from completed; ``sent_at`` keeps the first sending.
    reopened_at: Mapped[datetime | None]
    #: Why it was rejected or cancelled.
    reason: Mapped[str | None] = mapped_column(Text, info={"max_length": 1000})
    #: The agency's or staff's note on completion.
    completion_note: Mapped[str | None] = mapped_column(Text, info={"max_length": 1000})
    #: Times it came back from completed (the service never arrived).
    reopened_count: Mapped[int] = mapped_column(default=0)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[datetime | None]
    #: When the ladder's first rung was taken (the agency's head told); the supervisor's rung
    #: counts its working days from here.
    escalated_at: Mapped[datetime | None] = mapped_column(index=True)
    #: How far up the ladder it went: 0 none, 1 the agency's head, 2 the case unit's supervisor.
    escalation_rung: Mapped[int] = mapped_column(default=EscalationRung.NONE)
    #: Resident-verified closure: whether the completion SMS asked "1 Ya / 2 Belum", and whether
    #: the resident answered 1; ``verification_asked_at`` dates the question.
    resident_verification: Mapped[ResidentVerification] = mapped_column(
        enum_column(ResidentVerification, "referral_resident_verification"), default=ResidentVerification.NOT_ASKED
    )
    verification_asked_at: Mapped[datetime | None]
    #: Optimistic lock: two concurrent answers to one referral cannot both be saved.
    version: Mapped[int] = mapped_column(default=1)

    case: Mapped[Case] = relationship(back_populates="referrals")
    service: Mapped[Service] = relationship()
    agency: Mapped[Agency] = relationship()
    created_by: Mapped[Staff] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_referral_agency_id_status_due_at", "agency_id", "status", "due_at"),
        CheckConstraint("reminders_sent >= 0", name="reminders_sent_not_negative"),
        CheckConstraint("escalation_rung BETWEEN 0 AND 2", name="escalation_rung_on_the_ladder"),
        CheckConstraint("(escalation_rung = 0 AND escalated_at IS NULL) OR "
                        "(escalation_rung > 0 AND escalated_at IS NOT NULL)", name="escalated_at_with_rung"),
        CheckConstraint("(resident_verification = 'not_asked' AND verification_asked_at IS NULL) OR "
                        "(resident_verification != 'not_asked' AND verification_asked_at IS NOT NULL)",
                        name="verification_asked_at_when_asked"),
    )

    @property
    def is_active(self) -> bool:
        return self.status in REFERRAL_ACTIVE

    @staticmethod
    def verification_window() -> timedelta:
        """How long a resident has to answer "1 Ya / 2 Belum" (SLRT_VERIFY_DAYS); then it shows unverified."""
        return timedelta(days=float(current_app.config["SLRT_VERIFY_DAYS"]))

    @hybrid_property
    def is_unverified(self) -> bool:
        """Completed, the resident was asked whether the service came, and never confirmed in time."""
        return (self.status == ReferralStatus.COMPLETED and self.resident_verification == ResidentVerification.ASKED
                and clock.as_utc(self.verification_asked_at) < clock.now() - self.verification_window())

    @is_unverified.inplace.expression
    @classmethod
    def _is_unverified_expression(cls) -> ColumnElement[bool]:
        return and_(cls.status == ReferralStatus.COMPLETED, cls.resident_verification == ResidentVerification.ASKED,
                    cls.verification_asked_at < clock.now() - cls.verification_window())

    @hybrid_property
    def is_overdue(self) -> bool:
        """Still with the agency past its due date ("overdue" is derived, not a state)."""
        return self.is_active and self.due_at < clock.now()

    @is_overdue.inplace.expression
    @classmethod
    def _is_overdue_expression(cls) -> ColumnElement[bool]:
        return and_(cls.status.in_(REFERRAL_ACTIVE), cls.due_at < clock.now())

    def __repr__(self) -> str:
        return f"<Referral {self.id} {self.code} {self.status}>"


class Event(Base):
    """One line of a case's timeline: who moved what, from which state to which."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    #: Set when the event is about one referral of the case.
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind, "event_kind"))
    #: The transition's name: open, refer, accept, complete, ...
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    #: The staff member who acted; empty when an agency contact, a resident or the system did.
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    #: The agency contact who answered by SMS.
    actor_contact_id: Mapped[int | None] = mapped_column(ForeignKey("agency_contact.id"), index=True)
    #: The phone an SMS command came from (E.164), for residents and contacts.
    actor_phone: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, info={"max_length": 1000})
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)

    case: Mapped[Case] = relationship(back_populates="events")
    referral: Mapped[Referral | None] = relationship()
    actor_staff: Mapped[Staff | None] = relationship()
    actor_contact: Mapped[AgencyContact | None] = relationship()

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.action} {self.from_status}->{self.to_status}>"


class FollowUp(Base):
    """A resident the SMS could not reach: the village facilitator calls or visits instead."""

    __tablename__ = "follow_up"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    #: The unit (Puskesos post) whose facilitator follows up: the case's unit.
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    #: The SMS that did not arrive; one follow-up per message.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("sms_message.id"), unique=True)
    reason: Mapped[FollowUpReason] = mapped_column(enum_column(FollowUpReason, "follow_up_reason"))
    #: What the provider said ("21211 invalid number"), or how long we waited for a receipt.
    detail: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[FollowUpStatus] = mapped_column(
        enum_column(FollowUpStatus, "follow_up_status"), default=FollowUpStatus.OPEN, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    #: What the facilitator did and heard ("visited, told her to bring the KK to the clinic").
    note: Mapped[str | None] = mapped_column(Text, info={"max_length": 1000})

    case: Mapped[Case] = relationship()
    unit: Mapped[Unit] = relationship()
    message = relationship("SmsMessage")
    done_by: Mapped[Staff | None] = relationship()

    def __repr__(self) -> str:
        return f"<FollowUp {self.id} case={self.case_id} {self.reason} {self.status}>"
