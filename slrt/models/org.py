"""Regions, service units and staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from slrt import clock
from slrt.models.base import Base, enum_column
from slrt.models.enums import RegionLevel, Role, UnitKind


class Region(Base):
    """An administrative area with its Kemendagri code (33.16.01.2001 for a village)."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Kemendagri code, dotted: 33 / 33.16 / 33.16.01 / 33.16.01.2001.
    code: Mapped[str] = mapped_column(String(13), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel, "region_level"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Region {self.id} {self.code} {self.name}>"


class Unit(Base):
    """A service unit: the district secretariat or a village Puskesos post."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, "unit_kind"))
    #: The area it serves: the regency for a secretariat, the village for a Puskesos.
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    #: The secretariat a Puskesos reports to; empty for the secretariat itself.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(default=True)

    region: Mapped[Region] = relationship()
    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")

    def lineage(self) -> list[Unit]:
        """Return this unit and every unit above it, nearest first."""
        chain, unit = [], self
        while unit is not None and unit not in chain:
            chain.append(unit)
            unit = unit.parent
        return chain

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.kind} {self.name}>"


class Staff(Base):
    """A staff account: one person, one role, one unit."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role, "staff_role"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    #: Mobile number in E.164, for escalations and follow-up tasks.
    phone: Mapped[str | None] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    #: Preferred language of the screens: 'id' or 'en'.
    language: Mapped[str] = mapped_column(String(2), default="id")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    unit: Mapped[Unit] = relationship()

    def set_password(self, password: str, method: str = "scrypt") -> None:
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<Staff {self.id} {self.username} {self.role}>"
