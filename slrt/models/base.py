"""Declarative base, naming convention and column types shared by every model."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, registry

#: Stable constraint names, so Alembic autogenerate and downgrades can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out, also on SQLite (which keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum: VARCHAR holding the member's value, with a CHECK constraint."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


#: The largest id an INTEGER primary key holds; PostgreSQL answers a larger one with an error,
#: so ids read from outside (URLs, webhooks) are checked against it first.
MAX_ROW_ID = 2**31 - 1


def row_id(value: object) -> int:
    """Read a row id given from outside (a form, a query string, a webhook), or raise ValueError.

    Only ASCII digits, 1 to MAX_ROW_ID: ``int()`` would also take " 7", "+7", "٧" (Arabic-Indic)
    and numbers no INTEGER column holds. Works as werkzeug's ``type=``:
    ``request.form.get("service_id", type=row_id)`` is None for anything else, and
    ``getlist("needs", type=row_id)`` skips what is not an id.
    """
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    if not (0 < len(text) <= 10 and text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ROW_ID):
        raise ValueError(f"not a row id: {text[:20]!r}")
    return int(text)


def row_ids(values) -> list[int]:
    """The row ids among ``values`` (an admin action's selected rows); anything else is left out."""
    ids = []
    for value in values:
        try:
            ids.append(row_id(value))
        except ValueError:
            continue
    return ids


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )
