"""Bulk set-up from spreadsheets: Puskesos posts, staff, agencies, agency contacts and services.

A manager fills a template (CSV or XLSX, Indonesian headers) and imports it, first as a
dry run. Each row is checked alone and written in its own savepoint: a good row is kept, a
refused row writes nothing and is reported with its row number, column and reason. Rows are
matched by their natural key (post name; username; agency name; contact phone within its
agency; service code), so importing the same file again changes nothing. The rules are the
ones of the screens: slrt.units (posts), slrt.access (who may keep staff, catalogue and
agencies), slrt.staff (accounts) and slrt.identity (names, mobile numbers). The caller
commits (or, after a dry run, nothing was written).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field

import python_calamine
import xlsxwriter
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from slrt import csvout, runs, text, units
from slrt import staff as staff_ops
from slrt.access import Actor, check_active, check_keeps_settings, check_manages_staff, staff_covers
from slrt.errors import DomainError, PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.identity import normalize_mobile
from slrt.models import Agency, AgencyContact, Document, Region, Service, Staff, Unit
from slrt.models.catalog import service_document
from slrt.models.enums import (
    AGENCY_KIND_LABELS,
    AGENCY_LEVEL_LABELS,
    DOMAIN_LABELS,
    ROLE_LABELS,
    RegionLevel,
    Role,
    UnitKind,
)

#: The largest file taken (a district's staff and catalogue are a few hundred rows).
MAX_BYTES = 2 * 1024 * 1024
#: The most data rows in one file.
MAX_ROWS = 2000
#: Characters of a one-time password (letters and digits a clerk can read aloud, no 0/O, 1/l/I).
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_PASSWORD_LENGTH = 12

UNITS, STAFF, AGENCIES, CONTACTS, SERVICES = "units", "staff", "agencies", "contacts", "services"
#: In the order a district imports them: posts before their staff, agencies before contacts and services.
KINDS = (UNITS, STAFF, AGENCIES, CONTACTS, SERVICES)
KIND_LABELS = {UNITS: _l("Puskesos posts"), STAFF: _l("Staff"), AGENCIES: _l("Agencies"),
               CONTACTS: _l("Agency contacts"), SERVICES: _l("Services")}
#: Words of a file or sheet name that tell its kind when the headers alone do not.
_KIND_WORDS = {UNITS: ("puskesos", "unit"), STAFF: ("petugas", "staff", "pegawai"),
               AGENCIES: ("lembaga", "agenc", "instansi"), CONTACTS: ("kontak", "contact"),
               SERVICES: ("layanan", "service", "katalog", "catalog")}

CREATED, UPDATED, UNCHANGED, REFUSED = "created", "updated", "unchanged", "refused"
#: What happened to a row, in the past tense and as a dry run's forecast.
ACTION_LABELS = {CREATED: _l("created"), UPDATED: _l("updated"), UNCHANGED: _l("unchanged"),
                 REFUSED: _l("refused")}
DRY_RUN_LABELS = {CREATED: _l("would be created"), UPDATED: _l("would be updated"), UNCHANGED: _l("unchanged"),
                  REFUSED: _l("refused")}


@dataclass(frozen=True)
class Column:
    """One column of a template: its key, its header (Indonesian in the templates) and an example."""

    key: str
    label: object  # a lazy string
    required: bool
    example: str


#: The reminder schedule's columns, shared by services and agencies (an agency's overrides its services').
_REMINDER_COLUMNS = [
    Column("reminder_first_days", _l("First reminder after (working days)"), False, "3"),
    Column("reminder_every_days", _l("Then every (working days)"), False, "2"),
    Column("reminder_max", _l("At most"), False, "3"),
]

COLUMNS: dict[str, list[Column]] = {
    UNITS: [
        Column("name", _l("Name"), True, "Puskesos Desa Kepoh"),
        Column("village", _l("Village (code or name)"), True, "33.16.01.2003"),
        Column("more_villages", _l("More villages it serves"), False, "33.16.01.2004; Doplang"),
        Column("address", _l("Address"), False, "Balai Desa Kepoh, Jati"),
        Column("phone", _l("Phone"), False, "0812-2555-0188"),
        Column("head_name", _l("Head of office"), False, "Sri Wahyuni, S.Sos."),
        Column("head_nip", _l("Head's NIP"), False, "19760312 200501 2 004"),
    ],
    STAFF: [
        Column("username", _l("Username"), True, "rina.pratiwi"),
        Column("full_name", _l("Full name"), True, "Rina Pratiwi"),
        Column("role", _l("Role"), True, "Front office"),
        Column("unit", _l("Unit"), True, "Sekretariat SLRT Blora"),
        Column("phone", _l("Phone"), False, "0812-2555-0199"),
    ],
    AGENCIES: [
        Column("name", _l("Name"), True, "RSUD Dr. R. Soetijono Blora"),
        Column("short_name", _l("Name in SMS"), False, "RSUD Blora"),
        Column("kind", _l("Kind"), True, "Rumah sakit"),
        Column("level", _l("Level"), True, "Kabupaten/kota"),
        Column("address", _l("Address"), True, "Jl. Dr. Sutomo 42 Blora"),
        Column("phone", _l("Phone"), False, "(0296) 531118"),
        *(Column(c.key, c.label, False, "") for c in _REMINDER_COLUMNS),
    ],
    CONTACTS: [
        Column("agency", _l("Agency"), True, "RSUD Dr. R. Soetijono Blora"),
        Column("name", _l("Name"), True, "Sri Wahyuni"),
        Column("phone", _l("Phone"), True, "0812-2555-0301"),
        Column("receives_reminders", _l("Receives reminders"), False, "Ya"),
        Column("is_head", _l("Head"), False, "Tidak"),
    ],
    SERVICES: [
        Column("code", _l("Code"), True, "rs_keringanan"),
        Column("name", _l("Name"), True, "Keringanan biaya rumah sakit"),
        Column("short_name", _l("Name in SMS"), False, "Keringanan biaya RS"),
        Column("domain", _l("Domain"), True, "Kesehatan"),
        Column("sla_days", _l("SLA (working days)"), True, "5"),
        Column("documents", _l("Required documents"), False, "sktm; kk"),
        Column("default_agency", _l("Default agency"), False, "RSUD Dr. R. Soetijono Blora"),
        *_REMINDER_COLUMNS,
    ],
}


class ImportRefused(ValidationError):
    """The file as a whole cannot be read (size, format, headers); no row was looked at."""


@dataclass
class RowError:
    row: int
    column: str  # the header as shown
    message: str


@dataclass
class RowResult:
    row: int
    key: str  # the natural key as written in the file
    action: str
    errors: list[RowError] = field(default_factory=list)
    #: A new account's one-time password: shown once, never stored in clear.
    password: str | None = None


@dataclass
class ImportResult:
    kind: str
    dry_run: bool
    rows: list[RowResult]
    ignored_columns: list[str]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def errors(self) -> list[RowError]:
        return [e for r in self.rows for e in r.errors]

    @property
    def changed_nothing(self) -> bool:
        return not any(r.action in (CREATED, UPDATED) for r in self.rows)

    def action_label(self, action: str) -> str:
        return str((DRY_RUN_LABELS if self.dry_run else ACTION_LABELS)[action])


# --- reading the file ---------------------------------------------------------------------------

@dataclass
class Sheet:
    name: str
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells as text)


def _cell_text(value) -> str:
    """A spreadsheet cell as the text it shows (12 for 12.0; phones typed as numbers keep their digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(data: bytes) -> tuple[str, list[list[str]]]:
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        name = workbook.sheet_names[0]
        # Cached values only: calamine never evaluates a formula.
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False, nrows=MAX_ROWS + 2)
    except Exception as exc:  # calamine's errors (zip, XML, password) are one refusal for the user
        raise ImportRefused(_l("The file could not be read as an Excel workbook (.xlsx).")) from exc
    cells = [[_cell_text(v) for v in row] for row in rows]
    if any("\x00" in cell for row in cells for cell in row):  # no database stores or compares it
        raise ImportRefused(_l("The file could not be read as an Excel workbook (.xlsx)."))
    return name, cells


def _read_csv(data: bytes) -> list[list[str]]:
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(_l("The file is not a CSV in UTF-8 nor an Excel workbook (.xlsx); "
                               "save it from the spreadsheet as one of them.")) from None
    if "\x00" in decoded:
        raise ImportRefused(_l("The file is not a CSV in UTF-8 nor an Excel workbook (.xlsx); "
                               "save it from the spreadsheet as one of them."))
    first = decoded.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = []
        for row in csv.reader(io.StringIO(decoded, newline=""), delimiter=delimiter):
            rows.append([cell.strip() for cell in row])
            if len(rows) > MAX_ROWS + 1:
                break
    except csv.Error as exc:
        raise ImportRefused(_l("The CSV file is damaged: %(error)s", error=str(exc)[:100])) from None
    return rows


def read_sheet(data: bytes, filename: str) -> Sheet:
    """The first sheet of an XLSX file, or a CSV file (semicolon or comma, UTF-8 with or without BOM)."""
    if len(data) > MAX_BYTES:
        raise ImportRefused(_l("The file is too large: at most %(mb)s MB.", mb=MAX_BYTES // (1024 * 1024)))
    if not data.strip():
        raise ImportRefused(_l("The file is empty."))
    name = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", filename or "")
    if data.startswith(b"PK\x03\x04") and zipfile.is_zipfile(io.BytesIO(data)):
        sheet_name, rows = _read_xlsx(data)
        name = f"{name} {sheet_name}"
    else:
        rows = _read_csv(data)
    rows = [(number, row) for number, row in enumerate(rows, start=1)]
    while rows and not any(rows[0][1]):
        rows.pop(0)  # blank lines above the header
    if not rows:
        raise ImportRefused(_l("The file is empty."))
    header_number, headers = rows[0]
    body = [(n, r) for n, r in rows[1:] if any(c for c in r)]
    if len(body) > MAX_ROWS:
        raise ImportRefused(_l("The file has more than %(n)s rows; split it into smaller files.", n=MAX_ROWS))
    return Sheet(name=name, headers=headers, rows=body)


def _norm(header: str) -> str:
    return " ".join(header.replace("*", " ").replace("_", " ").lower().split())


def _aliases(label, *extra: str) -> set[str]:
    """A label as matched: in Indonesian, in English and any extra spellings, case- and space-insensitive."""
    names = set(extra)
    for locale in ("id", "en"):
        with force_locale(locale):
            names.add(str(label))
    return {_norm(n) for n in names if n}


def _header_map(kind: str, headers: list[str]) -> dict[str, int]:
    """Which file column holds each of the kind's columns."""
    wanted = {c.key: _aliases(c.label, c.key) for c in COLUMNS[kind]}
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        for key, names in wanted.items():
            if key not in found and _norm(header) in names:
                found[key] = index
    return found


def guess_kind(sheet: Sheet) -> str:
    """The kind whose required columns are all in the header row; the file or sheet name breaks a tie."""
    fits = []
    for kind in KINDS:
        found = _header_map(kind, sheet.headers)
        if all(c.key in found for c in COLUMNS[kind] if c.required):
            fits.append((len(found), kind))
    best = [kind for n, kind in fits if n == max(fits)[0]] if fits else []
    if len(best) == 1:
        return best[0]
    name = sheet.name.lower()
    named = [kind for kind in (best or KINDS) if any(word in name for word in _KIND_WORDS[kind])]
    if len(named) == 1:
        return named[0]
    raise ImportRefused(_l("Cannot tell what the file holds from its column headers; download the template "
                           "of what you import and use its headers, or choose the kind."))


# --- values ------------------------------------------------------------------------------------

def _choice(value: str, column: Column, labels: dict):
    """An enum member from its code or its label in Indonesian or English, any letter case."""
    wanted = _norm(value)
    for member, label in labels.items():
        if wanted in _aliases(label, member.value):
            return member
    choices = ", ".join(sorted(_label_id(label) for label in labels.values()))
    raise ValidationError(_l("Unknown value %(value)s; one of: %(choices)s.", value=value[:40], choices=choices),
                          field=column.key)


def _label_id(label) -> str:
    with force_locale("id"):
        return str(label)


_YES = {"ya", "y", "yes", "1", "true", "benar"}
_NO = {"tidak", "t", "no", "n", "0", "false", "salah", "tdk"}


def _flag(value: str, column: Column, default: bool) -> bool:
    if not value:
        return default
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    raise ValidationError(_l("Write Ya or Tidak."), field=column.key)


def _days(value: str, column: Column, default: int | None, low: int = 0, high: int = 365) -> int | None:
    if not value:
        if default is None and column.required:
            raise ValidationError(_l("This column is required."), field=column.key)
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(_l("Write a whole number."), field=column.key) from None
    if not low <= number <= high:
        raise ValidationError(_l("Write a number from %(low)s to %(high)s.", low=low, high=high), field=column.key)
    return number


def _text(value: str, column: Column, model_column) -> str:
    value = text.clean(value, model_column, field=column.key, label=column.label)
    if column.required and not value:
        raise ValidationError(_l("This column is required."), field=column.key)
    return value


def _unit(value: str, column: Column) -> Unit:
    """A unit by its name or the code of its region (33.16 for a regency's secretariat, a village's code)."""
    found = units.find(value)
    if len(found) != 1:
        raise ValidationError(_l("Unknown unit %(unit)s; write its name as on the Units screen or its region code.",
                                 unit=value[:60]) if not found else
                              _l("More than one unit has the region code %(code)s; write the unit's name.",
                                 code=value[:20]), field=column.key)
    return found[0]


def _agency(value: str, column: Column) -> Agency:
    found = list(db.session.scalars(select(Agency).where(or_(
        func.lower(Agency.name) == value.lower(), func.lower(Agency.short_name) == value.lower())).limit(2)))
    if len(found) != 1:
        raise ValidationError(_l("Unknown agency %(agency)s; import the agencies first or write its full name.",
                                 agency=value[:60]), field=column.key)
    return found[0]


def _village(value: str, column: Column) -> Region:
    """A village by its Kemendagri code, or by its name when only one village in the database has it."""
    value = " ".join(value.split())
    found = list(db.session.scalars(select(Region).where(Region.level == RegionLevel.VILLAGE, or_(
        Region.code == value, func.lower(Region.name) == value.lower())).limit(2)))
    if not found:
        raise ValidationError(_l("Unknown village %(village)s; write its code as on the Regions screen "
                                 "(e.g. 33.16.01.2003).", village=value[:60]), field=column.key)
    if len(found) > 1:
        raise ValidationError(_l("More than one village is named %(village)s; write its code as on the Regions "
                                 "screen.", village=value[:60]), field=column.key)
    return found[0]


def _villages(value: str, column: Column) -> list[Region]:
    """Villages by code or name, separated by semicolons or line breaks."""
    return [_village(part, column) for part in re.split(r"[;\n]", value) if part.strip()]


def _documents(value: str, column: Column) -> list[Document]:
    """Documents by code or name, separated by semicolons or line breaks, in the checklist's order."""
    documents = []
    for part in re.split(r"[;\n]", value):
        part = part.strip()
        if not part:
            continue
        document = db.session.scalar(select(Document).where(or_(
            func.lower(Document.code) == part.lower(), func.lower(Document.name) == part.lower())))
        if document is None:
            raise ValidationError(_l("Unknown document %(document)s; write its code or name as on the Documents "
                                     "screen.", document=part[:60]), field=column.key)
        if document not in documents:
            documents.append(document)
    return documents


# --- one row per kind --------------------------------------------------------------------------

class _RowErrors(Exception):
    def __init__(self, errors: list[tuple[str, object]]) -> None:
        super().__init__("row refused")
        self.errors = errors  # (column key, message)


class _Row:
    """A data row read through the header map, collecting every column's error before refusing it."""

    def __init__(self, kind: str, cells: list[str], columns: dict[str, int]) -> None:
        self.columns = {c.key: c for c in COLUMNS[kind]}
        self.values = {key: (cells[i] if i < len(cells) else "") for key, i in columns.items()}
        self.errors: list[tuple[str, object]] = []

    def raw(self, key: str) -> str:
        return self.values.get(key, "").strip()

    def has(self, key: str) -> bool:
        """Whether the file has the column (an empty cell in it still says something)."""
        return key in self.values

    def get(self, key: str, parse, *args):
        column = self.columns[key]
        value = self.raw(key)
        try:
            if not value and column.required and parse is not _days:
                raise ValidationError(_l("This column is required."), field=key)
            return parse(value, column, *args)
        except DomainError as exc:
            self.errors.append((key, exc.message))
            return None

    def check(self) -> None:
        if self.errors:
            raise _RowErrors(self.errors)


def _optional(parse):
    """``parse`` for a value that may be empty (empty gives None)."""
    def wrapped(value, column, *args):
        return parse(value, column, *args) if value else None
    return wrapped


def _mobile(value: str, column: Column) -> str:
    return normalize_mobile(value, field=column.key)


def _any_phone(value: str, column: Column) -> str:
    """An office phone: a landline is fine; digits, spaces, brackets, dashes and a leading +."""
    value = " ".join(value.split())
    if not re.fullmatch(r"\+?[0-9 ()\-.]{6,20}", value):
        raise ValidationError(_l("This is not a phone number."), field=column.key)
    return value


def new_password() -> str:
    """A one-time password for a new account (shown once; changed at first sign-in)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(_PASSWORD_LENGTH))


def _secretariat_of(village: Region) -> Unit:
    """The secretariat of the village's regency: a post reports to it."""
    secretariat = units.secretariat_of(village.parent.parent if village.parent is not None else None)
    if secretariat is None:
        raise ValidationError(_l("%(village)s has no secretariat yet: set up its regency first (setup-district).",
                                 village=village.name), field="village")
    return secretariat


def _import_unit(row: _Row, actor: Actor) -> RowResult:
    name = row.get("name", _text, Unit.name)
    village = row.get("village", _village)
    more_villages = row.get("more_villages", _optional(_villages)) or []
    address = row.get("address", _text, Unit.address)
    phone = row.get("phone", _optional(_any_phone))
    row.check()
    post = db.session.scalar(select(Unit).where(func.lower(Unit.name) == " ".join(name.split()).lower()))
    details = {"village": village, "more_villages": more_villages, "address": address or None, "phone": phone}
    if post is None:
        post = units.create_post(name=name, secretariat=_secretariat_of(village), actor=actor, **details)
        _set_head(row, post, actor)
        return RowResult(0, name, CREATED)
    if post.kind != UnitKind.PUSKESOS:
        raise _RowErrors([("name", _l("%(unit)s is a secretariat; only Puskesos posts are imported.",
                                      unit=post.name))])
    served = [v.id for v in more_villages if v is not village]
    head = (post.head_name, post.head_nip)
    if (post.region_id, sorted(set(served)), post.address, post.phone) != \
            (village.id, sorted(v.id for v in post.villages), address or None, phone):
        units.update_post(post, name=post.name, actor=actor, **details)
        _set_head(row, post, actor)
        return RowResult(0, name, UPDATED)
    units.check_keeps_posts(actor, post.parent)  # not even told it is there otherwise
    _set_head(row, post, actor)
    return RowResult(0, name, UNCHANGED if (post.head_name, post.head_nip) == head else UPDATED)


def _set_head(row: _Row, post: Unit, actor: Actor) -> None:
    """The head who signs the post's letters, when the file has the columns (left out: kept)."""
    if row.has("head_name") or row.has("head_nip"):
        units.set_head(post, name=row.raw("head_name") if row.has("head_name") else post.head_name,
                       nip=row.raw("head_nip") if row.has("head_nip") else post.head_nip, actor=actor)


def _import_staff(row: _Row, actor: Actor) -> RowResult:
    username = row.get("username", lambda v, c: v.strip().lower())
    full_name = row.get("full_name", lambda v, c: v)
    role = row.get("role", _choice, ROLE_LABELS)
    unit = row.get("unit", _unit)
    phone = row.get("phone", _optional(_mobile))
    row.check()
    try:
        check_manages_staff(actor, unit=unit, role=role)  # the account as the row would make it
    except PermissionDenied as exc:
        where = "role" if isinstance(actor, Staff) and staff_covers(actor, unit) else "unit"
        raise _RowErrors([(where, exc.message)]) from None
    user = db.session.scalar(select(Staff).where(Staff.username == username))
    if user is None:
        password = new_password()
        staff_ops.create_staff(username=username, full_name=full_name, role=role, unit=unit, password=password,
                               phone=phone, actor=actor, password_is_temporary=True)
        return RowResult(0, username, CREATED, password=password)
    if (user.full_name, Role(user.role), user.unit_id, user.phone or None) == \
            (" ".join(full_name.split()), role, unit.id, phone):
        check_manages_staff(actor, unit=user.unit, role=user.role)  # not even told it is there otherwise
        return RowResult(0, username, UNCHANGED)
    staff_ops.update_staff(user, actor=actor, full_name=full_name, role=role, unit=unit, phone=phone)
    return RowResult(0, username, UPDATED)


def _changed(record, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    return changed


def _import_agency(row: _Row, actor: Actor) -> RowResult:
    name = row.get("name", _text, Agency.name)
    short_name = row.get("short_name", _text, Agency.short_name)
    values = {
        "kind": row.get("kind", _choice, AGENCY_KIND_LABELS),
        "level": row.get("level", _choice, AGENCY_LEVEL_LABELS),
        "address": row.get("address", _text, Agency.address),
        "phone": row.get("phone", _optional(_any_phone)),
    }
    for column in _REMINDER_COLUMNS:  # only when the file has the column: empty keeps the services' schedule
        if row.has(column.key):
            low = 1 if column.key == "reminder_every_days" else 0
            values[column.key] = row.get(column.key, _days, None, low, 20 if column.key == "reminder_max" else 365)
    row.check()
    values["short_name"] = short_name or name[:30]
    agency = db.session.scalar(select(Agency).where(func.lower(Agency.name) == name.lower()))
    if agency is None:
        db.session.add(Agency(name=name, **values))
        db.session.flush()
        return RowResult(0, name, CREATED)
    if not row.raw("short_name"):
        values.pop("short_name")  # an empty cell keeps the name in SMS a manager chose
    return RowResult(0, name, UPDATED if _changed(agency, values) else UNCHANGED)


def _import_contact(row: _Row, actor: Actor) -> RowResult:
    agency = row.get("agency", _agency)
    name = row.get("name", lambda v, c: text.clean(v, AgencyContact.name, field=c.key, label=c.label))
    phone = row.get("phone", _mobile)
    values = {
        "name": name,
        "receives_reminders": row.get("receives_reminders", _flag, True),
        "is_head": row.get("is_head", _flag, False),
    }
    row.check()
    key = f"{agency.short_name} {phone}"
    contact = db.session.scalar(select(AgencyContact).where(AgencyContact.agency_id == agency.id,
                                                            AgencyContact.phone == phone))
    if contact is None:
        db.session.add(AgencyContact(agency=agency, phone=phone, is_active=True, **values))
        db.session.flush()
        return RowResult(0, key, CREATED)
    return RowResult(0, key, UPDATED if _changed(contact, values) else UNCHANGED)


def _import_service(row: _Row, actor: Actor) -> RowResult:
    code = row.get("code", lambda v, c: text.clean(v.strip(), Service.code, field=c.key, label=c.label))
    name = row.get("name", _text, Service.name)
    short_name = row.get("short_name", _text, Service.short_name)
    values = {
        "domain": row.get("domain", _choice, DOMAIN_LABELS),
        "sla_days": row.get("sla_days", _days, None, 1, 365),
        "default_agency": row.get("default_agency", _optional(_agency)),
        "reminder_first_days": row.get("reminder_first_days", _days, 3),
        "reminder_every_days": row.get("reminder_every_days", _days, 2, 1),
        "reminder_max": row.get("reminder_max", _days, 3, 0, 20),
    }
    documents = row.get("documents", _documents)
    row.check()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", code):
        raise _RowErrors([("code", _l("A code is letters, digits, dots, dashes or underscores."))])
    values["name"] = name
    values["short_name"] = short_name or name[:30]
    # the catalogue's codes are BPJS_PBI_AKTIVASI; a file may write bpjs_pbi_aktivasi for the same service
    service = db.session.scalar(select(Service).where(func.lower(Service.code) == code.lower()))
    if service is None:
        service = Service(code=code, is_active=True, **values)
        db.session.add(service)
        db.session.flush()
        _set_documents(service, documents)
        return RowResult(0, code, CREATED)
    if not row.raw("short_name"):
        values.pop("short_name")
    for key in ("default_agency", "reminder_first_days", "reminder_every_days", "reminder_max"):
        if not row.has(key):  # a column the file leaves out keeps what the service has
            values.pop(key)
    changed = _changed(service, values)
    if row.has("documents") and [d.id for d in service.documents] != [d.id for d in documents]:
        _set_documents(service, documents)
        changed = True
    db.session.flush()
    return RowResult(0, code, UPDATED if changed else UNCHANGED)


def _set_documents(service: Service, documents: list[Document]) -> None:
    db.session.execute(service_document.delete().where(service_document.c.service_id == service.id))
    for position, document in enumerate(documents):
        db.session.execute(service_document.insert().values(service_id=service.id, document_id=document.id,
                                                            position=position))
    db.session.expire(service, ["documents"])


_IMPORTERS = {UNITS: _import_unit, STAFF: _import_staff, AGENCIES: _import_agency, CONTACTS: _import_contact,
              SERVICES: _import_service}
#: The natural key's column per kind: a second row with the same key in one file is refused.
_KEYS = {UNITS: ("name",), STAFF: ("username",), AGENCIES: ("name",), CONTACTS: ("agency", "phone"),
         SERVICES: ("code",)}


#: The columns of the domain's field names where they differ (slrt.units says region, villages, parent).
_DOMAIN_FIELDS = {"region": "village", "villages": "more_villages", "parent": "village"}


def _file_key(kind: str, row: _Row) -> str:
    parts = []
    for key in _KEYS[kind]:
        value = row.raw(key).lower()
        if key == "phone":
            value = re.sub(r"\D", "", value).removeprefix("62").removeprefix("0")
        parts.append(value)
    return "|".join(parts)


# --- the import ---------------------------------------------------------------------------------

def check_may_import(actor: Actor, kind: str) -> None:
    """Posts and staff: any manager, within their units (checked per row); the rest: the district's managers."""
    check_active(actor)
    if kind in (UNITS, STAFF):
        return
    check_keeps_settings(actor)


def import_setup(data: bytes, *, filename: str, actor: Actor, kind: str | None = None,
                 dry_run: bool = False) -> ImportResult:
    """Import one spreadsheet; each good row is written (flushed), each refused row reported and not written.

    With ``dry_run`` every row is checked and written in a savepoint that is rolled back: the
    result says what would happen and the database is as before.
    """
    started = time.perf_counter()
    sheet = read_sheet(data, filename)
    if kind is None:
        kind = guess_kind(sheet)
    elif kind not in KINDS:
        raise ImportRefused(_l("Choose what the file holds."))
    check_may_import(actor, kind)
    columns = _header_map(kind, sheet.headers)
    missing = [c for c in COLUMNS[kind] if c.required and c.key not in columns]
    if missing:
        raise ImportRefused(_l("Missing columns: %(columns)s. Download the template and keep its headers.",
                               columns=", ".join(_label_id(c.label) for c in missing)))
    used = set(columns.values())
    ignored = [h for i, h in enumerate(sheet.headers) if i not in used and h.strip()]
    labels = {c.key: _label_id(c.label) for c in COLUMNS[kind]}
    results: list[RowResult] = []
    seen: dict[str, int] = {}
    outer = db.session.begin_nested()
    try:
        for number, cells in sheet.rows:
            row = _Row(kind, cells, columns)
            file_key = _file_key(kind, row)
            if file_key.strip("|") and file_key in seen:
                key_column = _KEYS[kind][-1]
                results.append(RowResult(number, row.raw(key_column), REFUSED, [RowError(
                    number, labels[key_column],
                    str(_l("The same %(column)s is in row %(row)s already.",
                           column=labels[key_column].lower(), row=seen[file_key])))]))
                continue
            seen[file_key] = number
            results.append(_one_row(kind, row, number, actor, labels))
    except BaseException:
        outer.rollback()
        raise
    if dry_run:
        outer.rollback()
        for result in results:
            result.password = None  # nobody was created: no password to hand out
    else:
        outer.commit()
        runs.record(f"import_{kind}", seconds=time.perf_counter() - started,
                    items=sum(1 for r in results if r.action in (CREATED, UPDATED)))
    return ImportResult(kind=kind, dry_run=dry_run, rows=results, ignored_columns=ignored)


def _one_row(kind: str, row: _Row, number: int, actor: Actor, labels: dict[str, str]) -> RowResult:
    """One row in its own savepoint: written whole, or not at all with the reasons."""
    key = row.raw(_KEYS[kind][-1])
    savepoint = db.session.begin_nested()
    try:
        result = _IMPORTERS[kind](row, actor)
    except _RowErrors as refused:
        savepoint.rollback()
        return RowResult(number, key, REFUSED, [RowError(number, labels.get(k, ""), str(m)) for k, m in refused.errors])
    except DomainError as exc:
        savepoint.rollback()
        field = _DOMAIN_FIELDS.get(exc.field, exc.field)
        column = field if field in labels else ("unit" if kind == STAFF else _KEYS[kind][0])
        return RowResult(number, key, REFUSED, [RowError(number, labels.get(column, ""), str(exc))])
    except IntegrityError:  # another import or screen saved the same key between our check and write
        savepoint.rollback()
        return RowResult(number, key, REFUSED, [RowError(number, labels[_KEYS[kind][-1]], str(
            _l("Someone saved the same record meanwhile; import the file again.")))])
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    result.row = number
    return result


# --- templates ----------------------------------------------------------------------------------

def template_rows(kind: str) -> list[list[str]]:
    """The header row (in Indonesian) and one example row of ``kind``."""
    with force_locale("id"):
        headers = [str(c.label) for c in COLUMNS[kind]]
    return [headers, [c.example for c in COLUMNS[kind]]]


def template_csv(kind: str) -> bytes:
    """The template as CSV (UTF-8 with BOM, formula-safe cells, the writer of every export)."""
    return "".join(csvout.lines(template_rows(kind))).encode("utf-8")


def template_xlsx(kind: str) -> bytes:
    """The template as an Excel workbook: text cells (a phone keeps its leading 0), never a formula."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_numbers": False, "strings_to_urls": False})
    with force_locale("id"):
        sheet = workbook.add_worksheet(str(KIND_LABELS[kind])[:31])
    bold = workbook.add_format({"bold": True})
    as_text = workbook.add_format({"num_format": "@"})
    for row_number, row in enumerate(template_rows(kind)):
        for col, value in enumerate(row):
            sheet.write_string(row_number, col, value, bold if row_number == 0 else as_text)
    for col, column in enumerate(COLUMNS[kind]):
        sheet.set_column(col, col, max(14, len(column.example) + 2), as_text)
    sheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()


def template_filename(kind: str, extension: str) -> str:
    with force_locale("id"):
        name = str(KIND_LABELS[kind]).lower().replace(" ", "-")
    return f"templat-{name}.{extension}"


def describe(result: ImportResult) -> Iterable[str]:
    """The result as lines of text (the CLI prints them): one per refused row, then the counts."""
    for row in result.rows:
        for error in row.errors:
            yield str(_l("Row %(row)s, column %(column)s: %(message)s", row=error.row, column=error.column,
                         message=error.message))
    if result.ignored_columns:
        yield str(_l("Columns not read: %(columns)s", columns=", ".join(result.ignored_columns)))
    counts = ", ".join(f"{result.action_label(a)} {result.count(a)}" for a in (CREATED, UPDATED, UNCHANGED, REFUSED))
    yield f"{KIND_LABELS[result.kind]}: {counts}"
    if result.changed_nothing and not result.count(REFUSED):
        yield str(_l("Nothing to change: the database already holds every row of this file."))
