"""Regions, service units and staff."""

from __future__ import annotations

import uuid
from datetime import datetime

from flask_security import UserMixin, verify_password
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from slrt import clock, lockout
from slrt.models.base import Base, enum_column
from slrt.models.enums import RegionLevel, Role, UnitKind, VillageKind


class Region(Base):
    """An administrative area with its Kemendagri code (33.16.01.2001 for a village)."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Kemendagri code, dotted: 33 / 33.16 / 33.16.01 / 33.16.01.2001.
    code: Mapped[str] = mapped_column(String(13), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel, "region_level"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    #: Desa or kelurahan, from the code's last four digits (1xxx kelurahan, 2xxx desa); villages only.
    village_kind: Mapped[VillageKind | None] = mapped_column(enum_column(VillageKind, "village_kind"))
    #: False when the official list no longer has it (merged, renamed code): kept for the records
    #: that point to it, offered for nothing new (slrt.regions).
    is_active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Region {self.id} {self.code} {self.name}>"


#: The villages a Puskesos post serves besides its own (``Unit.region``): a post may cover a group of villages.
unit_village = Table(
    "unit_village",
    Base.metadata,
    Column("unit_id", ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", ForeignKey("region.id"), primary_key=True, index=True),
)


class Unit(Base):
    """A service unit: the district secretariat or a village Puskesos post."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, "unit_kind"))
    #: The area it serves: the regency for a secretariat, the village for a Puskesos (its seat; it
    #: may serve more villages, ``villages``).
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    #: The secretariat a Puskesos reports to; empty for the secretariat itself.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(16))
    #: Who signs its referral letters: the head of office's name and civil-servant number (NIP, 18 digits).
    head_name: Mapped[str | None] = mapped_column(String(120))
    head_nip: Mapped[str | None] = mapped_column(String(18))
    is_active: Mapped[bool] = mapped_column(default=True)

    region: Mapped[Region] = relationship()
    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")
    #: More villages a Puskesos serves besides ``region`` (slrt.access reads both).
    villages: Mapped[list[Region]] = relationship(secondary=unit_village, order_by=Region.code)

    def lineage(self) -> list[Unit]:
        """Return this unit and every unit above it, nearest first."""
        chain, unit = [], self
        while unit is not None and unit not in chain:
            chain.append(unit)
            unit = unit.parent
        return chain

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.kind} {self.name}>"


class Staff(Base, UserMixin):
    """A staff account: one person, one role, one unit. Signs in through Flask-Security."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role, "staff_role"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    #: Mobile number in E.164, for escalations and follow-up tasks.
    phone: Mapped[str | None] = mapped_column(String(16))
    #: Optional; sign-in is by username.
    email: Mapped[str | None] = mapped_column(String(255))
    #: The password hash (argon2), as Flask-Security writes it.
    password: Mapped[str] = mapped_column("password_hash", String(255))
    #: Inactive accounts cannot sign in or act; their history stays.
    active: Mapped[bool] = mapped_column("is_active", default=True)
    #: Preferred language of the screens: 'id' or 'en'.
    language: Mapped[str] = mapped_column(String(2), default="id")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    #: A one-time password (an imported account's): every screen sends it to change it first.
    is_password_temporary: Mapped[bool] = mapped_column(default=False)

    #: Changing it signs the account out everywhere (Flask-Security session identity).
    fs_uniquifier: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: uuid.uuid4().hex)
    #: Second factor: 'authenticator' once a TOTP app is set up; required for managers.
    tf_primary_method: Mapped[str | None] = mapped_column(String(64))
    #: The TOTP secret, encrypted by Flask-Security with SECURITY_TOTP_SECRETS.
    tf_totp_secret: Mapped[str | None] = mapped_column(String(255))
    tf_phone_number: Mapped[str | None] = mapped_column(String(128))
    #: The 30-second time step of the last authenticator code accepted: a code signs in once.
    tf_totp_last_step: Mapped[int | None]
    #: Failed sign-ins since the last success; the account locks at the limit.
    failed_login_count: Mapped[int] = mapped_column(default=0)
    #: Every sign-in is refused until then (too many failures); a manager can unlock it sooner.
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    current_login_at: Mapped[datetime | None]
    last_login_ip: Mapped[str | None] = mapped_column(String(64))
    current_login_ip: Mapped[str | None] = mapped_column(String(64))
    login_count: Mapped[int] = mapped_column(default=0)

    unit: Mapped[Unit] = relationship()

    #: Flask-Security's role objects are not used: the role is the single ``role`` column.
    roles = ()

    @property
    def is_active(self) -> bool:  # both Flask-Login and the domain ask this
        return bool(self.active)

    @property
    def second_factor_required(self) -> bool:
        """Managers hold every key (staff, catalogue, templates): they must use an authenticator app."""
        return self.role == Role.MANAGER

    def check_password(self, password: str) -> bool:
        return verify_password(password, self.password)

    def check_tf_required(self, tf_setup_methods, tf_fresh):
        """Managers must use a second factor; anyone who set one up uses it."""
        if self.second_factor_required or tf_setup_methods:
            return True, tf_setup_methods
        return False, tf_setup_methods

    def check_tf_required_setup(self) -> bool:
        return self.second_factor_required

    def is_locked(self, form_error: list[str] | None = None) -> bool:
        """Refuse sign-in while the account is locked after too many failures."""
        message = lockout.lock_message(self)
        if message and form_error is not None:
            form_error.append(message)
        return message is not None

    def __str__(self) -> str:
        return self.full_name

    def __repr__(self) -> str:
        return f"<Staff {self.id} {self.username} {self.role}>"
