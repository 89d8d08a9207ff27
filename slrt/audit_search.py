"""The audit log as people read it: managers' filtered search, a resident's access history ("Riwayat
akses"), a staff member's own recent activity.

Newest first, a page at a time by keyset: a page ends with the (at, id) of its last entry and the next
one starts below it, so no OFFSET walks millions of rows and no COUNT(*) runs over the table. Every
filter is served by an index of audit_entry (slrt.models.audit): staff (staff_id, at), action
(action, at), record (record_type, record_id), address (ip, at), dates and paging (at, id), resident
(the GIN index on resident_ids on PostgreSQL, :func:`slrt.audit.concerns`).

Filters come from a form or a URL: :func:`parse_filters` reads them leniently and says what it could
not read instead of failing (a huge id, a date that is none, an address that is not one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, select, text, tuple_

from slrt import audit, clock
from slrt.extensions import db
from slrt.models import AuditEntry, enums
from slrt.models.base import MAX_ROW_ID, row_id
from slrt.models.enums import AuditAction

#: Entries on one page of the manager's log, of a resident's access history, of one's own activity.
PAGE_SIZE = 50
HISTORY_SIZE = 20
OWN_ACTIVITY_SIZE = 30

#: The words for each record type the log names (slrt.audit.RECORD_TYPES and the screens' own).
RECORD_TYPE_LABELS = {
    "resident": _l("Resident"), "household": _l("Household"), "case": _l("Case"), "referral": _l("Referral"),
    "staff": _l("Staff account"), "unit": _l("Unit"), "agency": _l("Agency"), "contact": _l("Agency contact"),
    "service": _l("Service"), "document": _l("Document"), "template": _l("SMS template"),
    "setting": _l("Setting"), "sms": _l("SMS"), "import": _l("DTSEN import"),
    "dtsen_proposal": _l("DTSEN proposals"), "audit": _l("Audit log"),
}
#: The type of a record the log does not name in words.
OTHER_RECORD = _l("other record")


def record_type_label(record_type: str | None) -> str:
    """A record type in words ("-" for none); an unknown type is "other record", never the raw key."""
    if not record_type:
        return "-"
    return str(RECORD_TYPE_LABELS.get(record_type, OTHER_RECORD))


@dataclass(frozen=True)
class Filters:
    """What a manager asks the log for; None: no condition."""

    staff_id: int | None = None
    resident_id: int | None = None
    action: AuditAction | None = None
    record_type: str | None = None
    record_id: int | None = None
    start: date | None = None
    end: date | None = None
    ip: str | None = None

    def query_args(self) -> dict[str, str]:
        """The filters as a URL's arguments (ids, codes and dates only: no personal value)."""
        args = {"staff": self.staff_id, "resident": self.resident_id,
                "action": self.action.value if self.action else None, "type": self.record_type,
                "record": self.record_id, "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "ip": self.ip}
        return {name: str(value) for name, value in args.items() if value is not None}

    def detail(self) -> dict:
        """The filters for an audit entry (an export of the log)."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: below the entry (at, id)."""

    at: datetime
    id: int

    def token(self) -> str:
        """``<microseconds since 1970>.<id>``: what the "older" link carries."""
        moment = clock.as_utc(self.at)
        micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        return f"{micros}.{self.id}"


def parse_cursor(token: str | None) -> Cursor | None:
    """The cursor of a token from :meth:`Cursor.token`; None for anything else (the first page)."""
    try:
        micros, ident = (token or "").split(".")
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
        return Cursor(moment, row_id(ident))
    except (ValueError, OverflowError):
        return None


@dataclass
class Parsed:
    filters: Filters
    #: What could not be read, in words; those filters are left out.
    errors: list[str] = field(default_factory=list)


#: Days a filter may name (any other is no date the log can hold).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(9998, 12, 31)


def _day(value: str) -> date:
    """A day typed as 2026-11-24 (a date field's value) or 24-11-2026 (as the screens write it)."""
    value = value.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = datetime.strptime(value, "%d-%m-%Y").date()
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(value)
    return day


def parse_filters(args: Mapping[str, str]) -> Parsed:
    """Filters from a form or URL (``staff``, ``resident``, ``action``, ``type``, ``record``, ``start``,
    ``end``, ``ip``); what is not understood is named in ``errors`` and left out, never a failure."""
    errors: list[str] = []
    values: dict = {}

    def read(name: str, convert, message, target: str | None = None) -> None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return
        try:
            values[target or name] = convert(raw)
        except (ValueError, OverflowError, KeyError):
            errors.append(str(message))

    read("staff", row_id, _l("The staff account is not one the log knows."), "staff_id")
    read("resident", row_id, _l("The resident is not one the log knows."), "resident_id")
    read("action", AuditAction, _l("Choose an action from the list."))
    read("type", _record_type, _l("Choose a record type from the list."), "record_type")
    read("record", _record_number, _l("A record number is a whole number from 1 to %(max)s.", max=MAX_ROW_ID),
         "record_id")
    read("start", _day, _l("The first day is not a date (dd-mm-yyyy)."))
    read("end", _day, _l("The last day is not a date (dd-mm-yyyy)."))
    read("ip", audit.normal_address, _l("The address is not an IP address."))
    if values.get("record_id") is not None and not values.get("record_type"):
        errors.append(str(_l("Choose the record type of the record number.")))
        values.pop("record_id")
    if values.get("start") and values.get("end") and values["start"] > values["end"]:
        errors.append(str(_l("The first day is after the last day.")))
        values.pop("end")
    return Parsed(Filters(**values), errors)


def _record_type(value: str) -> str:
    if value not in RECORD_TYPE_LABELS:
        raise ValueError(value)
    return value


def _record_number(value: str) -> int:
    number = int(value)
    if not 1 <= number <= MAX_ROW_ID:
        raise ValueError(value)
    return number


def _day_start(day: date) -> datetime:
    """The first moment of ``day`` in the deployment's time zone, in UTC."""
    return datetime.combine(day, time(), tzinfo=clock.local_zone()).astimezone(UTC)


def _conditions(filters: Filters) -> list:
    conditions = []
    if filters.staff_id is not None:
        conditions.append(AuditEntry.staff_id == filters.staff_id)
    if filters.resident_id is not None:
        conditions.append(audit.concerns(filters.resident_id))
    if filters.action is not None:
        conditions.append(AuditEntry.action == filters.action)
    if filters.record_type is not None:
        conditions.append(AuditEntry.record_type == filters.record_type)
        if filters.record_id is not None:
            conditions.append(AuditEntry.record_id == filters.record_id)
    if filters.start is not None:
        conditions.append(AuditEntry.at >= _day_start(filters.start))
    if filters.end is not None:
        conditions.append(AuditEntry.at < _day_start(filters.end + timedelta(days=1)))
    if filters.ip is not None:
        conditions.append(AuditEntry.ip == filters.ip)  # one spelling (normal_address): the (ip, at) index's order
    return conditions


def query(filters: Filters, before: Cursor | None = None) -> Select:
    """The entries matching ``filters``, newest first, below ``before`` when given."""
    conditions = _conditions(filters)
    if before is not None:
        # The plain bound on ``at`` lets every (x, at) index range-scan; the row comparison breaks ties.
        conditions += [AuditEntry.at <= before.at, tuple_(AuditEntry.at, AuditEntry.id) < tuple_(before.at, before.id)]
    if filters.resident_id is not None and db.session.get_bind().dialect.name == "postgresql":
        # PostgreSQL guesses that many entries name any one resident, so it walks (at, id) newest first and
        # tests each: the whole table for a resident seen a few times. The GIN index finds theirs first
        # (a materialized CTE is not planned around), then only those are sorted.
        matching = (select(AuditEntry.id, AuditEntry.at).where(*conditions)
                    .cte("matching").prefix_with("MATERIALIZED"))
        return (select(AuditEntry)
                .join(matching, and_(AuditEntry.id == matching.c.id, AuditEntry.at == matching.c.at))
                .order_by(matching.c.at.desc(), matching.c.id.desc()))
    return select(AuditEntry).where(*conditions).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


@dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    #: Where the next (older) page starts; None: this is the last one.
    next: Cursor | None


def _without_jit(filters: Filters) -> None:
    """PostgreSQL: no JIT compilation for a resident's entries in this transaction. The planner expects
    far more entries for one resident than there are and compiles the plan (about 65 ms on 10 million
    entries) for a query that then runs in a few milliseconds."""
    if filters.resident_id is not None and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


def page(filters: Filters, before: Cursor | None = None, size: int = PAGE_SIZE) -> Page:
    """One page of the log: ``size`` entries at most, and the cursor of the next when there are more."""
    _without_jit(filters)
    found = list(db.session.scalars(query(filters, before).limit(size + 1)))
    more = len(found) > size
    found = found[:size]
    return Page(found, Cursor(found[-1].at, found[-1].id) if more else None)


def every(filters: Filters, batch: int = 1000) -> Iterator[AuditEntry]:
    """Every matching entry, newest first, a keyset page of ``batch`` at a time (an export: flat memory).

    Each page is read whole before it is handed out: a streamed download outlives the request's
    session (closed when the view returns its answer), so no cursor may stay open across pages.
    """
    before = None
    while True:
        found = page(filters, before, batch)
        yield from found.entries
        if found.next is None:
            return
        before = found.next


def count(filters: Filters) -> int:
    """How many entries match (an export's row count): through the filters' indexes."""
    _without_jit(filters)
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(*_conditions(filters)))


def access_history(resident_id: int, before: Cursor | None = None, size: int = HISTORY_SIZE) -> Page:
    """Who viewed, listed, exported or changed the resident's data, and when: newest first."""
    return page(Filters(resident_id=resident_id), before, size)


def own_activity(staff_id: int, size: int = OWN_ACTIVITY_SIZE) -> Page:
    """A staff member's own most recent entries (their account page)."""
    return page(Filters(staff_id=staff_id), None, size)


#: Changed fields an entry names in words; others are counted.
FIELD_LABELS = {
    "name": _l("Name"), "address": _l("Address"), "phone": _l("Phone"), "phone_owner": _l("Whose phone"),
    "phone_owner_name": _l("Phone holder"), "language": _l("SMS language"), "nik_masked": "NIK", "kk_masked": "KK",
    "birth_date": _l("Birth date"), "birth_place": _l("Birth place"), "sex": _l("Sex"), "village_id": _l("Village"),
    "household_id": _l("Household (KK)"), "summary": _l("What the resident said"), "urgency": _l("Urgency"),
    "assignee_id": _l("Assignee"), "role": _l("Role"), "unit_id": _l("Unit"), "is_active": _l("Active"),
    "password": _l("Password"), "email": "Email", "body": _l("Text"), "due_at": _l("Due"),
    "agency_id": _l("Agency"), "service_id": _l("Service"), "documents_checked": _l("Documents checked"),
    "outcome": _l("Outcome"), "outcome_note": _l("Closing note"), "completion_note": _l("Completion note"),
    "reason": _l("Reason"), "is_sms_opted_out": _l("SMS stopped"), "full_name": _l("Full name"),
    "username": _l("Username"), "description": _l("Description"), "desil": "Desil",
}
#: How a sign-in was proven (Flask-Security's "authn_via").
_VIA = {"password": _l("password"), "tf": _l("authenticator app"), "totp": _l("authenticator app")}
_VALUE_LABELS: dict[str, str] = {}


def _value_label(value) -> str | None:
    """The words of a stored enum value (a status in a transition), None when it is no known value."""
    if not _VALUE_LABELS:
        for vocabulary in vars(enums).values():
            if isinstance(vocabulary, type) and issubclass(vocabulary, enums.Labelled) and issubclass(vocabulary, Enum):
                for member in vocabulary:
                    _VALUE_LABELS.setdefault(str(member.value), member.label)
    label = _VALUE_LABELS.get(str(value))
    return None if label is None else str(label)


def _fields_text(fields: dict) -> str:
    named = [str(FIELD_LABELS[name]) for name in fields if name in FIELD_LABELS]
    others = len(fields) - len(named)
    if others:
        named.append(str(_l("%(count)s other fields", count=others)))
    return ", ".join(named)


def detail_text(detail: dict | None) -> str:
    """An entry's details in words on one line, for the screen and the export: what is known of them
    (the list's type and filters, a transition's from and to, the fields changed, an export's reason...);
    codes without words are left out (the entry itself keeps them)."""
    if not isinstance(detail, dict):
        return ""
    parts: list[str] = []

    def say(label, value) -> None:
        if value not in (None, "", []):
            parts.append(f"{label}: {value}")

    say(_l("of"), record_type_label(detail.get("type")) if detail.get("type") else None)
    if isinstance(detail.get("filters"), list):
        say(_l("filters"), ", ".join(str(name) for name in detail["filters"]))
    if detail.get("search"):
        parts.append(str(_l("with a search")))
    if detail.get("from") is not None or detail.get("to") is not None:
        say(_l("from"), _value_label(detail.get("from")))
        say(_l("became"), _value_label(detail.get("to")))
    if isinstance(detail.get("fields"), dict):
        say(_l("fields"), _fields_text(detail["fields"]))
    if isinstance(detail.get("via"), list):
        say(_l("with"), ", ".join(str(_VIA[v]) for v in detail["via"] if v in _VIA))
    if detail.get("full"):
        parts.append(str(_l("full NIK and KK numbers")))
    if detail.get("report") == "breach":
        parts.append(str(_l("breach report")))
    if detail.get("refused"):
        parts.append(str(_l("refused rows")))
    say(_l("reason"), detail.get("reason"))
    say(_l("letter"), detail.get("letter"))
    for key, label in (("referral_id", _l("referral")), ("import_id", _l("import")), ("staff_id", _l("staff")),
                       ("resident_id", _l("resident")), ("record_id", _l("record"))):
        if isinstance(detail.get(key), int):
            say(label, f"#{detail[key]}")
    if detail.get("action"):
        say(_l("action"), _value_label(detail["action"]))
    for key, label in (("start", _l("first day")), ("end", _l("last day")), ("before", _l("before"))):
        if isinstance(detail.get(key), str):
            with contextlib.suppress(ValueError):
                say(label, clock.format_date(date.fromisoformat(detail[key])))
    if isinstance(detail.get("entries"), int):
        say(_l("entries"), detail["entries"])
    if detail.get("format") in ("csv", "xlsx"):
        say(_l("file"), detail["format"].upper())
    return "; ".join(parts)
