"""The audit log: who read or changed whose personal data, append-only and hash-chained.

Written only by :mod:`slrt.audit`; nothing updates or deletes an entry except
:func:`slrt.audit.drop_months_before` (retention, whole months). On PostgreSQL the table is
partitioned by month on ``at`` (the migration and :func:`slrt.audit.ensure_partitions`), so that
dropping a month is cheap; hence the primary key (id, at).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import JSON, BigInteger, FetchedValue, Index, Integer, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from slrt.models.base import Base, enum_column
from slrt.models.enums import AuditAction, AuditActor

#: PostgreSQL's monthly partitions of audit_entry and its DEFAULT partition.
PARTITION_NAME = re.compile(r"audit_entry_(\d{4}_\d{2}|default)")
#: Indexes made by the migration on one database only.
_ONE_DATABASE_INDEXES = {"ix_audit_entry_resident_ids"}

#: The residents an entry touched: an array with a GIN index on PostgreSQL, JSON text on SQLite.
ResidentIds = JSON().with_variant(postgresql.ARRAY(BigInteger), "postgresql")


class AuditEntry(Base):
    """One audited read or change, chained to the entry before it by ``prev_hash``."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_at_id", "at", "id"),
        Index("ix_audit_entry_staff_id_at", "staff_id", "at"),
        Index("ix_audit_entry_action_at", "action", "at"),
        Index("ix_audit_entry_record", "record_type", "record_id"),
        Index("ix_audit_entry_ip_at", "ip", "at"),
        # On PostgreSQL the migration adds a GIN index on resident_ids (ix_audit_entry_resident_ids);
        # SQLite searches the JSON text, so it has none, hence not declared here (see include_object).
    )

    #: Drawn under the chain's lock (slrt.audit), so id order is chain order: PostgreSQL's sequence
    #: (the column's default), SQLite's last id + 1. On PostgreSQL ids have gaps (a writer that waited
    #: for the lock draws again): a missing id is no missing entry, the hash chain says what is missing.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False,
                                    server_default=FetchedValue())
    #: Never earlier than the entry before it (the partition key on PostgreSQL).
    at: Mapped[datetime] = mapped_column(primary_key=True)
    actor_kind: Mapped[AuditActor] = mapped_column(enum_column(AuditActor, "audit_actor"))
    #: The staff account that acted; no foreign key: the log outlives accounts.
    staff_id: Mapped[int | None] = mapped_column(Integer)
    #: Username, masked phone (0812****7890), "sistem" or the CLI operator (user@host): never a full phone.
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[AuditAction] = mapped_column(enum_column(AuditAction, "audit_action"))
    #: The one record acted on ('resident', 'case', ...); none for a list, search or export.
    record_type: Mapped[str | None] = mapped_column(String(20))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    #: Every resident whose personal data the entry touched (Riwayat akses, the breach report).
    resident_ids: Mapped[list[int]] = mapped_column(ResidentIds)
    #: Rows a list, search or export returned.
    rows: Mapped[int | None] = mapped_column(Integer)
    #: Filters, reason, transition from/to, changed fields {field: [before, after]}: personal values masked.
    detail: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    #: The previous entry's hash ("0" * 64 for the first).
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: sha256 of prev_hash and the canonical JSON of every other field but id (slrt.audit.entry_hash).
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.record_type}:{self.record_id}>"


class AuditHead(Base):
    """The chain's newest link, one row (id 1): its lock is the chain's lock, and reading it costs an index
    probe where the newest entry of a partitioned table costs planning over every partition."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int | None] = mapped_column(BigInteger)
    last_at: Mapped[datetime | None]
    last_hash: Mapped[str] = mapped_column(String(64))
    #: Scratch for one statement's append (slrt.audit, PostgreSQL): the UPDATE that moves the head keeps
    #: the hash it moved from here, for the entry's INSERT; not kept up to date by other appends.
    prev_hash: Mapped[str | None] = mapped_column(String(64))


def include_object(object_, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: the audit table's partitions and its PostgreSQL-only index are not in the models."""
    if type_ == "table" and reflected and name and PARTITION_NAME.fullmatch(name):
        return False
    return not (type_ == "index" and name in _ONE_DATABASE_INDEXES)
