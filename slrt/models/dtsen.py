"""Imports of residents and households from DTSEN exports: each run, its refused rows, saved column
names and the changes an import made (slrt.dtsen_import writes them)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from slrt import clock
from slrt.models.base import Base, enum_column
from slrt.models.enums import ImportState
from slrt.models.org import Staff, Unit


class ResidentImport(Base):
    """One import (or dry run) of a DTSEN export: who, when, which file, how far, what it did."""

    __tablename__ = "resident_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The staff member who started it from the screen; None from the CLI (``operator`` says who).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    #: The operating-system account that ran ``flask slrt import-residents``.
    operator: Mapped[str | None] = mapped_column(String(80))
    #: The unit whose villages the rows may be in (the staff member's); None: the whole district (CLI).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(default=0)
    is_dry_run: Mapped[bool] = mapped_column(default=False)
    #: The date the export's data stands at ("data per"), kept on every household and resident it touched.
    as_of: Mapped[date]
    #: Column key -> header of the file, as recognized or mapped (slrt.dtsen_import.FIELDS keys).
    columns: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[ImportState] = mapped_column(enum_column(ImportState, "resident_import_state"),
                                               default=ImportState.QUEUED)
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: Data rows in the file (counted before the first is read), and read so far.
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    residents_created: Mapped[int] = mapped_column(default=0)
    residents_updated: Mapped[int] = mapped_column(default=0)
    residents_unchanged: Mapped[int] = mapped_column(default=0)
    rows_refused: Mapped[int] = mapped_column(default=0)
    households_created: Mapped[int] = mapped_column(default=0)
    households_updated: Mapped[int] = mapped_column(default=0)
    households_unchanged: Mapped[int] = mapped_column(default=0)
    #: Why the run stopped, for a failed one (in the reader's words, no personal data).
    failure: Mapped[str | None] = mapped_column(Text)

    staff: Mapped[Staff | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    errors: Mapped[list[ResidentImportError]] = relationship(
        back_populates="run", order_by="ResidentImportError.row_number", cascade="all, delete-orphan",
        passive_deletes=True)

    @property
    def who(self) -> str:
        return self.staff.full_name if self.staff is not None else (self.operator or "-")

    def __repr__(self) -> str:
        return f"<ResidentImport {self.id} {self.state}>"


class ResidentImportError(Base):
    """A refused row of an import: where, why, and the row as it was (encrypted: it holds NIKs)."""

    __tablename__ = "resident_import_error"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Indexed with row_number (ix_resident_import_error_import_row).
    import_id: Mapped[int] = mapped_column(ForeignKey("resident_import.id", ondelete="CASCADE"))
    #: The row's number as a spreadsheet shows it (the header is row 1).
    row_number: Mapped[int]
    #: The file's header of the column at fault (empty when the row as a whole is refused).
    column: Mapped[str] = mapped_column(String(120), default="")
    message: Mapped[str] = mapped_column(Text)
    #: Fernet token of the row's cells as JSON (a list of strings, in the file's column order).
    cells_encrypted: Mapped[str] = mapped_column(Text)

    run: Mapped[ResidentImport] = relationship(back_populates="errors")

    __table_args__ = (Index("ix_resident_import_error_import_row", "import_id", "row_number"),)


class ImportHeader(Base):
    """A column name a manager mapped once ("NIK KTP" -> nik): recognized in every later file."""

    __tablename__ = "import_header"

    #: The header as compared: lowercase, letters and digits only ("nikktp").
    header: Mapped[str] = mapped_column(String(120), primary_key=True)
    #: A key of slrt.dtsen_import.FIELDS, or "" for a column to leave out.
    field: Mapped[str] = mapped_column(String(40))
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    saved_at: Mapped[datetime] = mapped_column(default=clock.now)


class DtsenChange(Base):
    """What an import changed on one resident or household: field -> [before, after].

    Personal fields (address, name, phone) are named with no values; codes (desil, status,
    programmes, village, family) keep both, so "who changed what" is answered without copying data.
    """

    __tablename__ = "dtsen_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("resident_import.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    changes: Mapped[dict] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=clock.now)


class DtsenProposal(Base):
    """A case marked "usul DTSEN": its resident is not in DTSEN and is proposed for registration
    to the village's data operator (the list is exported for them)."""

    __tablename__ = "dtsen_proposal"

    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), primary_key=True)
    proposed_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    #: Why the resident should be registered (the clerk's words, optional).
    note: Mapped[str | None] = mapped_column(Text, info={"max_length": 500})

    proposed_by: Mapped[Staff | None] = relationship()
