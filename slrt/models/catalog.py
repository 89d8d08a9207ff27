"""The service catalogue and the partner agencies that deliver it."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from slrt.models.base import Base, enum_column
from slrt.models.enums import DOMAIN_COLOURS, AgencyKind, AgencyLevel, Domain

#: Which documents a service requires, in the order a checklist lists them.
service_document = Table(
    "service_document",
    Base.metadata,
    Column("service_id", ForeignKey("service.id", ondelete="CASCADE"), primary_key=True),
    Column("document_id", ForeignKey("document.id"), primary_key=True, index=True),
    Column("position", Integer, nullable=False, default=0),
)


class Document(Base):
    """A document a resident may have to bring (SKTM, copy of KK, ...)."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Short form for SMS, where every character counts ("fc KK").
    sms_name: Mapped[str] = mapped_column(String(40))

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.code}>"


class Agency(Base):
    """A partner agency that receives referrals (Dinas Kesehatan, BPJS, RSUD, ...)."""

    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    #: Short name for SMS ("BPJS", "RSUD Blora").
    short_name: Mapped[str] = mapped_column(String(30))
    kind: Mapped[AgencyKind] = mapped_column(enum_column(AgencyKind, "agency_kind"), index=True)
    level: Mapped[AgencyLevel] = mapped_column(enum_column(AgencyLevel, "agency_level"))
    address: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    #: Reminder schedule overrides for this agency, in working days; empty = the service's.
    reminder_first_days: Mapped[int | None]
    reminder_every_days: Mapped[int | None]
    reminder_max: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)

    contacts: Mapped[list[AgencyContact]] = relationship(
        back_populates="agency", order_by="AgencyContact.id"
    )

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Agency {self.id} {self.short_name}>"


class AgencyContact(Base):
    """A person at an agency who gets referral SMS and may answer them."""

    __tablename__ = "agency_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: Mobile number in E.164; an SMS reply is trusted only from a registered one.
    phone: Mapped[str] = mapped_column(String(16), index=True)
    #: The agency's head: the second rung of the escalation ladder.
    is_head: Mapped[bool] = mapped_column(default=False)
    #: Gets new-referral notices and reminder digests.
    receives_reminders: Mapped[bool] = mapped_column(default=True)
    is_active: Mapped[bool] = mapped_column(default=True)

    agency: Mapped[Agency] = relationship(back_populates="contacts")

    def __repr__(self) -> str:
        return f"<AgencyContact {self.id} agency={self.agency_id}>"


class Service(Base):
    """An item of the service catalogue, e.g. activating government-paid BPJS (PBI)."""

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    #: Short name for SMS ("Aktivasi BPJS PBI").
    short_name: Mapped[str] = mapped_column(String(30))
    domain: Mapped[Domain] = mapped_column(enum_column(Domain, "service_domain"), index=True)
    description: Mapped[str | None] = mapped_column(Text, info={"max_length": 2000})
    default_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    #: Working days the agency has to handle a referral: due date = sent + SLA.
    sla_days: Mapped[int] = mapped_column(default=5)
    #: First reminder this many working days after sending, while nobody answered...
    reminder_first_days: Mapped[int] = mapped_column(default=3)
    #: ...then every this many working days...
    reminder_every_days: Mapped[int] = mapped_column(default=2)
    #: ...at most this many times; then the escalation ladder.
    reminder_max: Mapped[int] = mapped_column(default=3)
    is_active: Mapped[bool] = mapped_column(default=True)

    default_agency: Mapped[Agency | None] = relationship()
    documents: Mapped[list[Document]] = relationship(
        secondary=service_document, order_by=service_document.c.position
    )

    @property
    def card_colour(self) -> str:
        return DOMAIN_COLOURS[self.domain]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Service {self.id} {self.code}>"
