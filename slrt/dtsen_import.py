"""Residents and households from DTSEN exports (CSV or XLSX, as SIKS-NG and similar tools write them).

No official template exists, so the columns are recognized by the names such exports use, in
any letter case and spacing ("ID DTKS", "id_dtks"; "NOKK", "No KK", "nomor_kk"); a column it does
not know can be mapped by hand and the mapping is kept for the next file (``ImportHeader``).

The file is read as a stream, a batch of rows at a time: each row is checked as at intake
(slrt.identity: NIK with birth date and sex, KK, name, phone), matched by the NIK's and KK's keyed
hash, then the batch is written in a few statements and committed with the run's counters, so a
screen follows the progress and memory stays flat (what grows is one 64-bit key per NIK and KK
seen, to report a NIK met twice in one file). On PostgreSQL a thread writes each batch on a
connection of its own while the next is matched (_Pipeline). A dry run checks and counts the same
way and writes nothing but the run's record and its refused rows. Identifiers stay text end to end:
a NIK that a spreadsheet turned into a number is taken only when it is still exact.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import gc
import getpass
import hashlib
import io
import json
import logging
import multiprocessing
import operator
import os
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import python_calamine
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Engine, String, any_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from slrt import audit, clock, runs
from slrt.access import SYSTEM_ACTOR, Actor, check_active, covered_village_ids, role_of
from slrt.errors import DomainError, PermissionDenied, ValidationError
from slrt.extensions import babel, begin_write, db
from slrt.identity import birth_date_from_nik, normalize_mobile, validate_kk, validate_name, validate_nik
from slrt.models import (
    DtsenChange,
    Household,
    ImportHeader,
    Region,
    Resident,
    ResidentImport,
    ResidentImportError,
    ResidentNameWord,
    Staff,
    Unit,
)
from slrt.models.enums import AuditAction, DtsenStatus, ImportState, Programme, RegionLevel, Role, Sex, UnitKind
from slrt.models.people import name_words
from slrt.pii import mask, vault

log = logging.getLogger(__name__)

#: Who may import: the secretariat's staff for the district, a Puskesos's for its villages.
IMPORT_ROLES = frozenset({Role.MANAGER, Role.SUPERVISOR, Role.BACK_OFFICE, Role.FACILITATOR})
#: Rows read, checked and written together (one commit, one progress step). Each batch costs a few
#: queries, three COPYs, a commit and a hand-over between the importer and its writer, in which a CPU
#: may wait: 5,000 rows a batch imported 10-27 % faster than 2,000 (300,000 rows, side by side), for
#: some 20 MB more in flight.
BATCH_ROWS = 5000
#: Refused rows kept for the download; past this the run still counts them.
MAX_KEPT_ERRORS = 100_000
#: The largest exact integer of a float: a longer NIK read back from a number lost its last digits.
_EXACT_FLOAT = 2**53


@dataclass(frozen=True)
class Field:
    key: str
    label: object  # lazy string
    names: tuple[str, ...]  # header spellings, compared as _norm() gives them


def _norm(header: object) -> str:
    """A header as compared: lowercase letters and digits only ("No. KK" -> "nokk")."""
    return re.sub(r"[^0-9a-z]", "", str(header or "").lower())


FIELDS: dict[str, Field] = {f.key: f for f in (
    Field("dtks_id", _l("DTSEN/DTKS id"), ("iddtks", "iddtsen", "idsemesta", "idkeluarga", "idart", "dtksid")),
    Field("nik", "NIK", ("nik", "nomornik", "nonik", "nikart", "niknomor", "noktp", "nikktp", "nikpenerima")),
    Field("kk", _l("KK number"), ("kk", "nokk", "nomorkk", "nokartukeluarga", "nomorkartukeluarga", "kknomor",
                                  "nkk")),
    Field("name", _l("Name"), ("nama", "namaart", "namalengkap", "name", "namapenerima", "namaanggota")),
    Field("birth_date", _l("Birth date"), ("tanggallahir", "tgllahir", "tgllhr", "tanggallhr", "birthdate")),
    Field("birth_place", _l("Birth place"), ("tempatlahir", "tmplahir", "tmptlahir", "tempatlhr", "birthplace")),
    Field("sex", _l("Sex"), ("jeniskelamin", "jk", "gender", "kelamin", "jnskel", "sex", "kdjeniskelamin")),
    Field("relation", _l("Relation in the family"), ("hubungankeluarga", "hubkel", "hubungan", "shdk",
                                                      "hubungandengankk", "hubkeluarga", "kdhubkel")),
    Field("address", _l("Address"), ("alamat", "alamatlengkap", "address", "jalan")),
    Field("dusun", "Dusun", ("dusun", "namadusun", "dukuh")),
    Field("rt", "RT", ("rt", "nort")),
    Field("rw", "RW", ("rw", "norw")),
    Field("village_code", _l("Village code"), ("kodedesa", "kddesa", "kodewilayah", "kodekelurahan", "kdkel",
                                               "kodedesakelurahan", "kddesakel", "iddesa", "kodedesakel")),
    Field("village_name", _l("Village"), ("desakelurahan", "desa", "kelurahan", "namadesa", "namakelurahan",
                                          "desakel", "kelurahandesa")),
    Field("district_name", _l("Subdistrict (kecamatan)"), ("kecamatan", "namakecamatan", "kec")),
    Field("desil", "Desil", ("desil", "desilnasional", "desilkesejahteraan", "peringkatdesil")),
    Field("phone", _l("Phone"), ("nohp", "hp", "telepon", "notelp", "notelepon", "nomorhp", "phone")),
    Field("status", _l("DTSEN status"), ("status", "statusart", "statusdtsen", "statusdtks", "keterangan",
                                         "statuskeberadaan")),
    Field("pkh", "PKH", ("pkh", "kdpkh", "statuspkh", "penerimapkh")),
    Field("bpnt", "BPNT", ("bpnt", "kdbpnt", "sembako", "kdsembako", "statusbpnt", "penerimabpnt")),
    Field("pbi_jk", "PBI-JK", ("pbijk", "pbi", "kdpbi", "kdpbijk", "pbijkn", "kis", "statuspbi")),
    Field("pip", "PIP", ("pip", "kdpip", "kip", "statuspip")),
    Field("blt", "BLT", ("blt", "bltdd", "kdblt", "kdbltdd")),
)}
_PROGRAMME_FIELDS = {"pkh": Programme.PKH, "bpnt": Programme.BPNT, "pbi_jk": Programme.PBI_JK,
                     "pip": Programme.PIP, "blt": Programme.BLT}
#: A column to leave out, as a mapping says it.
SKIP = ""
_SEX = {"l": Sex.MALE, "lk": Sex.MALE, "1": Sex.MALE, "lakilaki": Sex.MALE, "laki": Sex.MALE, "pria": Sex.MALE,
        "m": Sex.MALE, "male": Sex.MALE, "p": Sex.FEMALE, "pr": Sex.FEMALE, "2": Sex.FEMALE,
        "perempuan": Sex.FEMALE, "wanita": Sex.FEMALE, "f": Sex.FEMALE, "female": Sex.FEMALE}
_RELATION = {"kepalakeluarga": 1, "kepalarumahtangga": 1, "kk": 1, "krt": 1, "kepala": 1, "istri": 2,
             "suami": 2, "istrisuami": 2, "suamiistri": 2, "anak": 3, "menantu": 4, "cucu": 5, "orangtua": 6,
             "mertua": 6, "orangtuamertua": 6, "ayah": 6, "ibu": 6, "pembantu": 7, "pembanturumahtangga": 7,
             "pembanturuta": 7, "famililain": 8, "lainnya": 8, "lain": 8}
_YES = {"1", "y", "ya", "yes", "true", "penerima", "v", "x"}
_NO = {"", "0", "2", "n", "t", "tidak", "no", "false", "bukan", "bukanpenerima", "-"}
_STATUS = {"": DtsenStatus.CONFIRMED, "terkonfirmasi": DtsenStatus.CONFIRMED, "aktif": DtsenStatus.CONFIRMED,
           "sesuai": DtsenStatus.CONFIRMED, "tidakterkonfirmasi": DtsenStatus.UNCONFIRMED,
           "belumterkonfirmasi": DtsenStatus.UNCONFIRMED, "baru": DtsenStatus.NEW, "usulanbaru": DtsenStatus.NEW,
           "ganda": DtsenStatus.DUPLICATE, "duplikat": DtsenStatus.DUPLICATE, "pindah": DtsenStatus.MOVED,
           "tidakditemukan": DtsenStatus.NOT_FOUND, "meninggal": DtsenStatus.DECEASED,
           "meninggaldunia": DtsenStatus.DECEASED, "wafat": DtsenStatus.DECEASED}
_REQUIRED = ("nik", "kk", "name")
#: Rows go in through the tables (Core), not the ORM: one statement per batch of rows, whatever is empty.
_HOUSEHOLD, _RESIDENT, _NAME_WORD = Household.__table__, Resident.__table__, ResidentNameWord.__table__


class ImportRefused(ValidationError):
    """The file as a whole cannot be imported (format, headers, rights); no row was looked at."""


class _RowRefused(Exception):
    def __init__(self, key: str, message) -> None:
        super().__init__(str(message))
        self.key, self.message = key, message


# --- Reading -------------------------------------------------------------------------------------------


@dataclass
class Table:
    """A file opened for reading: its headers, an estimate of its data rows, and its rows as a stream
    of (spreadsheet row number, cells). XLSX cells keep their type (a NIK typed as a number is a float)."""

    headers: list[str]
    total: int
    rows: Iterator[tuple[int, list]]
    #: A CSV's encoding and delimiter (None: a workbook), and the records up to the header's, included.
    csv_format: CsvFormat | None = None
    header_number: int = 0


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    lines: int
    has_nul: bool


def is_xlsx(path: str | Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04" and zipfile.is_zipfile(path)


def open_table(path: str | Path) -> Table:
    """The first sheet of an XLSX workbook, or a CSV (comma, semicolon, tab or bar; UTF-8, else Windows-1252)."""
    if os.path.getsize(path) == 0:
        raise ImportRefused(_l("The file is empty."))
    csv_format = None if is_xlsx(path) else _csv_format(path)
    rows = _xlsx_rows(path) if csv_format is None else _csv_rows(path, csv_format)
    total = next(rows)  # the generators say their size first
    for number, cells in rows:
        if any(_text(c) for c in cells):
            return Table(headers=[_text(c) for c in cells], total=max(total - number, 0), rows=rows,
                         csv_format=csv_format, header_number=number)
    raise ImportRefused(_l("The file is empty."))


def _xlsx_rows(path) -> Iterator:
    try:
        sheet = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        yield sheet.total_height or sheet.height
        # Cached values only: calamine never evaluates a formula.
        yield from enumerate(sheet.iter_rows(), start=1)
    except ImportRefused:
        raise
    except Exception as exc:  # calamine's errors (zip, XML, password) are one refusal for the user
        raise ImportRefused(_l("The file could not be read as an Excel workbook (.xlsx).")) from exc


def _csv_format(path) -> CsvFormat:
    """A CSV's encoding (UTF-8, else Windows-1252), delimiter (comma, semicolon, tab or bar), lines and
    whether a NUL byte is anywhere in it."""
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
        newlines, last, nul = head.count(b"\n"), head[-1:], False
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            newlines, last = newlines + chunk.count(b"\n"), chunk[-1:]
            nul = nul or b"\x00" in chunk
    if b"\x00" in head:
        raise ImportRefused(_l("The file is not a CSV nor an Excel workbook (.xlsx); save it from the "
                               "spreadsheet as one of them."))
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the sample
            encoding = "cp1252"
    # The delimiter is the one the first line with text uses most (blank lines may come before the header).
    first = next((line for line in head.decode(encoding, errors="replace").splitlines() if line.strip()), "")
    # lines: a last one without its newline counts too
    return CsvFormat(encoding=encoding, delimiter=max(";,\t|", key=first.count),
                     lines=newlines + (last not in (b"\n", b"")), has_nul=nul)


_NOT_UTF8 = _l("The file is not in UTF-8; save it from the spreadsheet as CSV UTF-8.")


def _damaged(error: object) -> ImportRefused:
    return ImportRefused(_l("The CSV file is damaged: %(error)s", error=str(error)[:100]))


def _csv_rows(path, csv_format: CsvFormat) -> Iterator:
    yield csv_format.lines
    nul = csv_format.has_nul
    with open(path, encoding=csv_format.encoding, errors="strict", newline="") as text:
        try:
            for number, cells in enumerate(csv.reader(text, delimiter=csv_format.delimiter), start=1):
                if nul and any("\x00" in cell for cell in cells):  # a NUL character is a NUL byte (UTF-8, cp1252)
                    raise ImportRefused(_l("Row %(row)s holds a character no database keeps; the file is damaged.",
                                           row=number))
                yield number, cells
        except UnicodeDecodeError:
            raise ImportRefused(_NOT_UTF8) from None
        except csv.Error as exc:
            raise _damaged(exc) from None


def _csv_text_batches(path, csv_format: CsvFormat, after: int, size: int) -> Iterator[tuple[int, str]]:
    """A CSV's rows after the first ``after`` (the header's and any before it) as text, ``size`` rows at
    a time: (the first one's number, their lines). Checking processes read the rows from the text: a
    text goes to them at a fraction of the cost of its cells, and the rows are not read twice.

    A line without a quote character is one row; one with a quote is read by the CSV reader here,
    which takes the lines its row spans (a quoted value may hold line breaks), so that rows are
    numbered, and batches cut, exactly as the reader of the whole file would.
    """
    delimiter = csv_format.delimiter
    with open(path, encoding=csv_format.encoding, errors="strict", newline="") as handle:
        try:
            lines = iter(handle)
            header = csv.reader(lines, delimiter=delimiter)  # takes the header's lines, no more
            for _ in range(after):
                next(header)
            start, batch, count = after + 1, [], 0
            for line in lines:
                if '"' in line:
                    batch.extend(_row_lines(line, lines, delimiter))
                else:
                    batch.append(line)
                count += 1
                if count >= size:
                    yield start, "".join(batch)
                    start, batch, count = start + count, [], 0
            if batch:
                yield start, "".join(batch)
        except UnicodeDecodeError:
            raise ImportRefused(_NOT_UTF8) from None
        except csv.Error as exc:
            raise _damaged(exc) from None


def _row_lines(first: str, lines: Iterator[str], delimiter: str) -> list[str]:
    """The lines of the row that starts with ``first``, the next ones taken from ``lines`` as the CSV
    reader asks for them (it takes no line past its row's)."""
    taken = [first]

    def source() -> Iterator[str]:
        yield first
        for line in lines:
            taken.append(line)
            yield line

    next(csv.reader(source(), delimiter=delimiter), None)
    return taken


def _text_rows(start: int, text: str, delimiter: str) -> list[tuple[int, list]]:
    """The rows of a batch's text (_csv_text_batches), numbered from ``start``, blank ones left out."""
    return [(number, cells) for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""),
                                                                      delimiter=delimiter), start=start)
            if _has_text(cells)]


def _has_text(cells: list) -> bool:
    """Whether a row holds anything but blanks (blank rows are skipped, not counted)."""
    return any(cells) and any(_text(c) for c in cells)


def _text(value) -> str:
    """A cell as the text it shows (12 for 12.0)."""
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "2"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if not value.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


# --- Columns -------------------------------------------------------------------------------------------


@dataclass
class Columns:
    """Which file column holds each field, and what the file has that is not recognized."""

    headers: list[str]
    found: dict[str, int]
    unknown: list[str]

    @property
    def missing(self) -> list[str]:
        """Fields without which no row can be read: NIK, KK, name and the village (by code or name)."""
        missing = [key for key in _REQUIRED if key not in self.found]
        if "village_code" not in self.found and "village_name" not in self.found:
            missing.append("village_name")
        return missing

    def header_of(self, key: str) -> str:
        return self.headers[self.found[key]] if key in self.found else ""


def saved_headers() -> dict[str, str]:
    return dict(db.session.execute(select(ImportHeader.header, ImportHeader.field)).all())


def parse_mapping(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["NIK KTP=nik", "Catatan="]`` (the CLI's --map) as header -> field; an unknown field is refused."""
    mapping = {}
    for item in items:
        header, sep, key = item.partition("=")
        key = key.strip()
        if not sep or not header.strip() or (key and key not in FIELDS):
            raise ImportRefused(_l("Cannot read the mapping %(item)s: write 'Column header=field', the field one "
                                   "of %(fields)s (empty to leave the column out).",
                                   item=item[:80], fields=", ".join(FIELDS)))
        mapping[header.strip()] = key
    return mapping


def recognize(headers: list[str], mapping: dict[str, str] | None = None,
              saved: dict[str, str] | None = None) -> Columns:
    """Recognize each header: by ``mapping`` (header -> field key, "" to leave out) first, then by the
    mappings saved earlier, then by the spellings exports use. A field is taken from its first column."""
    given = {_norm(h): key for h, key in (mapping or {}).items()}
    saved = saved if saved is not None else saved_headers()
    known = {name: f.key for f in FIELDS.values() for name in f.names}
    found: dict[str, int] = {}
    unknown = []
    for index, header in enumerate(headers):
        norm = _norm(header)
        if not norm:
            continue
        key = given[norm] if norm in given else saved[norm] if norm in saved else known.get(norm)
        if key is None:
            unknown.append(header)
        elif key and key not in found:
            found[key] = index
    return Columns(headers=headers, found=found, unknown=unknown)


def save_headers(mapping: dict[str, str], actor: Actor) -> None:
    """Keep ``mapping`` (header -> field) for the next files: their columns are then recognized."""
    for header, key in mapping.items():
        norm = _norm(header)
        if not norm or (key and key not in FIELDS):
            continue
        row = db.session.get(ImportHeader, norm[:120])
        if row is None:
            db.session.add(ImportHeader(header=norm[:120], field=key,
                                        saved_by_id=actor.id if isinstance(actor, Staff) else None))
        else:
            row.field, row.saved_at = key, clock.now()
            row.saved_by_id = actor.id if isinstance(actor, Staff) else None
    db.session.flush()


# --- Values --------------------------------------------------------------------------------------------


def identifier(value, key: str, *, check: bool = True) -> str:
    """A NIK or KK number from a cell, as 16 digits of text, or _RowRefused saying why.

    A spreadsheet that took the column for numbers leaves floats: 3316012001000123.0 is still exact,
    but 3.31601E+15, a number past 2^53 (NIKs of Papua, 91-97...) or one Excel may have rounded to 15
    digits (a number cell ending in 0) cannot be trusted and is refused, never guessed.
    """
    if type(value) is str and len(value) == 16 and value.isdigit() and value.isascii():  # the usual case
        return value if key == "nik" and not check else _checked(value, key)
    what = "NIK" if key == "nik" else "No KK"
    broken = _l("%(what)s damaged by Excel (%(value)s): format the column as Text and copy the numbers again.",
                what=what, value=_text(value)[:20])
    if isinstance(value, bool):
        raise _RowRefused(key, broken)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer() or not 0 <= value < _EXACT_FLOAT:
            raise _RowRefused(key, broken)
        digits = str(int(value))
        if len(digits) == 16 and digits.endswith("0"):  # Excel keeps 15 digits: the 16th may be lost
            raise _RowRefused(key, broken)
        raw = digits
    else:
        raw = str(value or "").strip().lstrip("'")
        if re.fullmatch(r"\d+\.0+", raw):
            raw = raw.split(".")[0]
            if int(raw) >= _EXACT_FLOAT:
                raise _RowRefused(key, broken)
        elif re.fullmatch(r"\d+(\.\d+)?[eE]\+?\d+", raw) or re.fullmatch(r"\d+,\d+", raw):
            raise _RowRefused(key, broken)
    if raw.isdigit() and len(raw) == 15:
        raise _RowRefused(key, _l("%(what)s has 15 digits, not 16: Excel may have cut it. Format the column as "
                                  "Text and copy the numbers again.", what=what))
    if key == "nik" and not check:
        return raw
    return _checked(raw, key)


def _checked(raw: str, key: str) -> str:
    try:
        return validate_nik(raw) if key == "nik" else validate_kk(raw)
    except ValidationError as exc:
        raise _RowRefused(key, exc.message) from None


_DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d")


def parse_date(value) -> date | None:
    """A date from a cell: a spreadsheet date, dd-mm-yyyy, dd/mm/yyyy, yyyy-mm-dd or an Excel serial number."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        return None
    if len(text) == 10 and text[2] in "-/." and text[5] == text[2]:  # dd-mm-yyyy, the usual case
        try:
            return date(int(text[6:]), int(text[3:5]), int(text[:2]))
        except ValueError:
            pass
    if re.fullmatch(r"\d{4,5}(\.0+)?", text):  # an Excel serial number (days since 1899-12-30)
        serial = int(float(text))
        if 1 <= serial <= 80000:
            return date(1899, 12, 30) + timedelta(days=serial)
    text = text.split(" ")[0].split("T")[0]
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise _RowRefused("birth_date", _l("Cannot read the date %(value)s: write dd-mm-yyyy.", value=text[:20]))


def parse_sex(value) -> Sex | None:
    norm = _norm(_text(value))
    if not norm:
        return None
    try:
        return _SEX[norm]
    except KeyError:
        raise _RowRefused("sex", _l("Sex %(value)s unknown: write L or P (1 or 2, Laki-laki or Perempuan).",
                                    value=_text(value)[:20])) from None


def parse_relation(value) -> int | None:
    text = _text(value)
    if not text:
        return None
    if text.isdigit() and 1 <= int(text) <= 8:
        return int(text)
    norm = _norm(text)
    if norm in _RELATION:
        return _RELATION[norm]
    raise _RowRefused("relation", _l("Relation in the family %(value)s unknown: write 1 (head of the family) to "
                                     "8 (other), or the words.", value=text[:30]))


def parse_flag(value, key: str) -> bool:
    norm = _norm(_text(value))
    if norm in _YES:
        return True
    if norm in _NO:
        return False
    raise _RowRefused(key, _l("%(programme)s: write 1 (Ya) or 2 (Tidak), not %(value)s.",
                              programme=FIELDS[key].label, value=_text(value)[:20]))


def parse_desil(value) -> int | None:
    text = _text(value).lower().removeprefix("desil").strip()
    if not text:
        return None
    if text.isdigit() and 1 <= int(text) <= 10:
        return int(text)
    raise _RowRefused("desil", _l("Desil must be 1 to 10, not %(value)s.", value=_text(value)[:20]))


def parse_status(value) -> DtsenStatus:
    norm = _norm(_text(value))
    try:
        return _STATUS[norm]
    except KeyError:
        raise _RowRefused("status", _l("DTSEN status %(value)s unknown: write Terkonfirmasi, Tidak Terkonfirmasi, "
                                       "Baru, Ganda, Pindah, Tidak Ditemukan or Meninggal.",
                                       value=_text(value)[:30])) from None


def _village_code(value) -> str:
    """33.16.05.2003 from 3316052003, 33.16.05.2003 or 33 16 05 2003."""
    digits = re.sub(r"\D", "", _text(value))
    if len(digits) != 10:
        return ""
    return f"{digits[:2]}.{digits[2:4]}.{digits[4:6]}.{digits[6:]}"


def _place_name(value) -> str:
    """A village or kecamatan name as compared: no "Desa"/"Kel." prefix, letters and digits only."""
    text = _text(value).lower()
    text = re.sub(r"^(desa|kelurahan|kel\.?|ds\.?|kecamatan|kec\.?)\s+", "", text)
    return _norm(text)


# --- The district's villages -----------------------------------------------------------------------------


@dataclass
class Villages:
    """The villages rows may be in, by code and by (kecamatan, village) name, and the actor's own."""

    by_code: dict[str, int]
    by_name: dict[tuple[str, str], int]
    by_village_name: dict[str, list[int]]
    allowed: set[int] | None  # None: every village of the district
    elsewhere: set[str] = field(default_factory=set)  # codes known in the database outside the district

    def find(self, row: list, columns: Columns) -> int:
        code_at, name_at, district_at = (columns.found.get(k) for k in ("village_code", "village_name",
                                                                          "district_name"))
        village_id = None
        code = _village_code(row[code_at]) if code_at is not None and code_at < len(row) else ""
        if code:
            village_id = self.by_code.get(code)
            if village_id is None:
                raise _RowRefused("village_code", _l("Village %(code)s is outside the district: residents of "
                                                     "another regency are imported by its own office.",
                                                     code=code))
        elif name_at is not None and name_at < len(row) and _text(row[name_at]):
            village = _place_name(row[name_at])
            district = _place_name(row[district_at]) if district_at is not None and district_at < len(row) else ""
            if district:
                village_id = self.by_name.get((district, village))
            else:
                matches = self.by_village_name.get(village, [])
                if len(matches) > 1:
                    raise _RowRefused("district_name", _l("There are several villages named %(name)s: give the "
                                                          "kecamatan too.", name=_text(row[name_at])[:60]))
                village_id = matches[0] if matches else None
            if village_id is None:
                raise _RowRefused("village_name", _l("Village %(name)s is not a village of the district.",
                                                     name=_text(row[name_at])[:60]))
        else:
            raise _RowRefused("village_code" if code_at is not None else "village_name",
                              _l("The village is empty."))
        if self.allowed is not None and village_id not in self.allowed:
            raise _RowRefused("village_code" if code else "village_name",
                              _l("This village is not one your unit serves: its rows are imported by its own "
                                 "Puskesos or by the secretariat."))
        return village_id


def district_villages(actor: Actor) -> Villages:
    """The villages of the district(s) set up here (the areas of the secretariats) the actor may import."""
    areas = db.session.scalars(select(Region.code).join(Unit, Unit.region_id == Region.id)
                               .where(Unit.kind == UnitKind.SECRETARIAT)).all()
    if not areas:
        raise ImportRefused(_l("No district is set up yet: run setup-district first."))
    parent = aliased(Region)
    rows = db.session.execute(
        select(Region.id, Region.code, Region.name, parent.name).join(parent, parent.id == Region.parent_id)
        .where(Region.level == RegionLevel.VILLAGE,
               or_(*(Region.code.startswith(f"{code}.", autoescape=True) for code in areas)))).all()
    by_code, by_name, by_village = {}, {}, {}
    for region_id, code, name, district_name in rows:
        by_code[code] = region_id
        by_name[(_place_name(district_name), _place_name(name))] = region_id
        by_village.setdefault(_place_name(name), []).append(region_id)
    allowed = covered_village_ids(actor) if isinstance(actor, Staff) else None
    return Villages(by_code=by_code, by_name=by_name, by_village_name=by_village, allowed=allowed)


# --- Rights and the run's record ---------------------------------------------------------------------------


def check_may_import(actor: Actor) -> None:
    check_active(actor)
    if isinstance(actor, Staff) and role_of(actor) not in IMPORT_ROLES:
        raise PermissionDenied(_l("Your role may not import DTSEN data."))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def upload_dir() -> Path:
    """Where uploaded files wait for the worker (deleted once imported): readable by web and workers only."""
    path = Path(current_app.config.get("SLRT_IMPORT_DIR") or Path(current_app.instance_path) / "imports")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


#: The key under which a run's ``columns`` also keeps every header of the file, in order (no field is named so).
ALL_HEADERS = "_headers"


def start(path: str | Path, *, filename: str, actor: Actor, as_of: date, dry_run: bool,
          mapping: dict[str, str] | None = None, table: Table | None = None) -> ResidentImport:
    """Record an import of the file at ``path`` (queued), after checking the actor and the file's columns.

    Nothing else is written; :func:`run` does the work (a worker, or the CLI right away). The caller commits.
    ``table`` is the file as this process opened it already, if it did (only its headers are read here).
    """
    check_may_import(actor)
    if as_of > clock.today():
        raise ImportRefused(_l("The data's date cannot be in the future."))
    table = table if table is not None else open_table(path)
    columns = recognize(table.headers, mapping)
    if columns.missing:
        raise ImportRefused(_l("The file has no column for %(fields)s: map one of its columns to it.",
                               fields=", ".join(str(FIELDS[key].label) for key in columns.missing)))
    run_ = ResidentImport(
        staff_id=actor.id if isinstance(actor, Staff) else None,
        operator=None if isinstance(actor, Staff) else _operator(),
        unit_id=actor.unit_id if isinstance(actor, Staff) else None,
        filename=os.path.basename(filename or "")[:255] or "-", sha256=file_sha256(path),
        size_bytes=os.path.getsize(path), is_dry_run=dry_run, as_of=as_of, rows_total=table.total,
        columns={**{key: columns.headers[index] for key, index in columns.found.items()},
                 ALL_HEADERS: columns.headers},
        state=ImportState.QUEUED)
    db.session.add(run_)
    db.session.flush()
    return run_


def _operator() -> str:
    try:
        return getpass.getuser()[:80]
    except (KeyError, OSError):
        return "cli"


# --- The run ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    number: int
    cells: list
    nik: str = ""
    nik_hash: str = ""
    kk: str = ""
    kk_hash: str = ""
    name: str = ""
    sex: Sex | None = None
    birth_date: date | None = None
    birth_place: str | None = None
    relation: int | None = None
    address: str = ""
    village_id: int = 0
    desil: int | None = None
    programmes: str = ""
    status: DtsenStatus = DtsenStatus.CONFIRMED
    phone: str | None = None
    dtks_id: str | None = None

    def plain(self) -> tuple:
        """The row as a checking process sends it back: plain values (enums by value), without the cells
        (the importer has them). A list of tuples pickles and loads in C: a fifth of the time of objects,
        in the process that also matches."""
        return (self.number, self.nik, self.nik_hash, self.kk, self.kk_hash, self.name, self.sex.value,
                self.birth_date, self.birth_place, self.relation, self.address, self.village_id, self.desil,
                self.programmes, self.status.value, self.phone, self.dtks_id)

    def __reduce__(self):
        return _unpickled_row, self.plain()


_SEX_OF, _STATUS_OF = {sex.value: sex for sex in Sex}, {status.value: status for status in DtsenStatus}


def _unpickled_row(*values) -> _Row:
    return _rows_from([values], lambda _number: None)[0]


def _rows_from(plain: list[tuple], cells_of: Callable[[int], list | _BatchCells | None]) -> list[_Row]:
    """Rows from their plain() values, given back their cells (by row number; or the batch's text they
    are read from if needed: see _cells)."""
    sex_of, status_of = _SEX_OF, _STATUS_OF
    return [_Row(number, cells_of(number), nik, nik_hash, kk, kk_hash, name, sex_of[sex], birth_date, birth_place,
                 relation, address, village_id, desil, programmes, status_of[status], phone, dtks_id)
            for (number, nik, nik_hash, kk, kk_hash, name, sex, birth_date, birth_place, relation, address,
                 village_id, desil, programmes, status, phone, dtks_id) in plain]


def _cells(row: _Row) -> list | None:
    """A row's cells, read again from its batch's text if it came as text (_ParserPool.parse_text)."""
    return row.cells.of(row.number) if isinstance(row.cells, _BatchCells) else row.cells


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    households_created: int = 0
    households_updated: int = 0
    households_unchanged: int = 0


def _key(hex_hash: str) -> int:
    """64 bits of a keyed hash: enough to tell a NIK met earlier in the file, at 8 bytes' worth each."""
    return int(hex_hash[:16], 16)


#: What the row checker remembers (see Parser): combinations of coded cells, and a family's KK and address.
_MEMOS = ("coded", "flags", "village", "kk", "address")
#: Combinations remembered per memo (sex x relation x desil x status spellings: a few hundred to two thousand
#: in a file; a memo is cleared when it holds this many).
_MEMO_SIZE = 4096
#: What a memo answers for a combination it has not met (None and "" are answers).
_UNKNOWN = object()


class Parser:
    """Reads and checks rows, each alone: what can run in another process (it holds no session).

    ``today`` is the importer's (a spawned process has its own clock); refusals come back as text in
    the app's language, which is the importer's too (an import runs in a worker or the CLI).
    Coded cells (sex, relation, desil, status, programmes, the village) take a few values over and
    over: each distinct combination is parsed once and remembered, its refusals too (a row's first
    refusal is still the one its fields' order gives).
    """

    def __init__(self, columns: Columns, villages: Villages, today: date) -> None:
        self.columns, self.villages, self.today = columns, villages, today
        self.f = {key: columns.found.get(key) for key in FIELDS}
        self.programmes = [(self.f[key], key, programme) for key, programme in _PROGRAMME_FIELDS.items()
                           if self.f[key] is not None]
        # A row's cells padded to this width hold None at ``blank``, where a field without a column looks.
        self.blank = max((index for index in self.f.values() if index is not None), default=-1) + 1
        self.at = {key: self.blank if index is None else index for key, index in self.f.items()}
        # The cells each remembered combination is read from, taken from a padded row in one call.
        self.coded_cells = operator.itemgetter(*(self.at[key] for key in ("sex", "relation", "desil", "status")))
        self.flag_cells = operator.itemgetter(*(index for index, _key, _programme in self.programmes), self.blank)
        self.village_cells = operator.itemgetter(*(self.at[key] for key in ("village_code", "village_name",
                                                                            "district_name")))
        self.address_cells = operator.itemgetter(*(self.at[key] for key in ("address", "dusun", "rt", "rw")))
        self._memos: dict[str, dict] = {name: {} for name in _MEMOS}
        #: Whether cells may be other than text (a workbook's): the memos then tell them apart by type.
        #: A CSV's cells are all text (run() says so).
        self.typed = True

    def __getstate__(self) -> dict:
        # A checking process starts its own memos and binds its own app's key.
        return {key: value for key, value in self.__dict__.items() if key not in ("_nik_hash", "_kk_hash")} | {
            "_memos": {name: {} for name in _MEMOS}}

    def parse_batch(self, raw: list[tuple[int, list]]) -> tuple[list[_Row], list[tuple[int, list, str, str]]]:
        rows, refused = [], []
        self._nik_hash, self._kk_hash = vault.hasher("nik"), vault.hasher("kk")  # the app's key, once a batch
        for number, cells in raw:
            try:
                rows.append(self.parse(number, cells))
            except _RowRefused as exc:
                refused.append((number, cells, exc.key, str(exc.message)))
        return rows, refused

    def _recall(self, name: str, values: tuple, compute: Callable, *args):
        """``compute(*args)`` for the cells ``values``, remembered in the memo ``name`` (bounded). A
        workbook's cells are keyed with their types: True and 1 are one key to a dict, not one value
        to the checks (see ``typed``)."""
        key = tuple((type(value), value) for value in values) if self.typed else values
        memo = self._memos[name]
        result = memo.get(key, _UNKNOWN)
        if result is _UNKNOWN:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            result = memo[key] = compute(*args)
        return result

    def _coded(self, key: tuple) -> tuple:
        """Sex, relation, desil and status from their cells, each a value or the _RefusedValue saying why."""
        return tuple(_or_refusal(parse, value) for parse, value in zip(
            (parse_sex, parse_relation, parse_desil, parse_status), key, strict=True))

    def _programmes(self, key: tuple) -> str | _RefusedValue:
        """The programmes flagged in the cells ``key`` (the last is the blank), or the first refusal."""
        try:
            return " ".join(programme.value for (_index, name, programme), value
                            in zip(self.programmes, key[:-1], strict=True) if parse_flag(value, name))
        except _RowRefused as exc:
            return _RefusedValue(exc.key, exc.message)

    def _village(self, cells: list) -> int | _RefusedValue:
        return _or_refusal(self.villages.find, cells, self.columns)

    def parse(self, number: int, cells: list) -> _Row:
        width, at, blank, recall = len(cells), self.at, self.blank, self._recall
        padded = cells[:blank] + [None] * (blank + 1 - width) if width <= blank else cells[:blank + 1]
        padded[blank] = None

        row = _Row(number=number, cells=cells)
        row.nik = identifier(padded[at["nik"]], "nik", check=False)  # checked below with the date and sex
        cell = padded[at["kk"]]  # the same for a family's rows, one after the other
        kk = recall("kk", (cell,), _or_refusal, self._kk, cell)
        if type(kk) is _RefusedValue:
            raise _RowRefused(kk.key, kk.message)
        row.kk, row.kk_hash = kk
        values = self.coded_cells(padded)
        sex, relation, desil, status = recall("coded", values, self._coded, values)
        if type(sex) is _RefusedValue:
            raise _RowRefused(sex.key, sex.message)
        row.sex = sex
        row.birth_date = parse_date(padded[at["birth_date"]])
        if row.birth_date is not None and row.birth_date > self.today:
            raise _RowRefused("birth_date", _l("The birth date cannot be in the future."))
        try:
            row.nik = validate_nik(row.nik, birth_date=row.birth_date, sex=row.sex)
            row.name = validate_name(_text(padded[at["name"]]))
        except ValidationError as exc:
            raise _RowRefused("nik" if exc.field == "nik" else "name", exc.message) from None
        if row.sex is None:
            row.sex = Sex.FEMALE if int(row.nik[6:8]) > 40 else Sex.MALE
        if row.birth_date is None:
            row.birth_date = birth_date_from_nik(row.nik, self.today)
        place = _text(padded[at["birth_place"]])
        row.birth_place = " ".join(place.split())[:80] or None
        if type(relation) is _RefusedValue:
            raise _RowRefused(relation.key, relation.message)
        row.relation = relation
        village = recall("village", self.village_cells(padded), self._village, padded)
        if type(village) is _RefusedValue:
            raise _RowRefused(village.key, village.message)
        row.village_id = village
        values = self.address_cells(padded)
        row.address = recall("address", values, _address, *values)
        if not row.address:
            raise _RowRefused("address", _l("Address is required."))
        for value in (desil, status):
            if type(value) is _RefusedValue:
                raise _RowRefused(value.key, value.message)
        row.desil, row.status = desil, status
        if self.programmes:  # a file may have no programme column at all: no programme flagged
            values = self.flag_cells(padded)
            programmes = recall("flags", values, self._programmes, values)
        else:
            programmes = ""
        if type(programmes) is _RefusedValue:
            raise _RowRefused(programmes.key, programmes.message)
        row.programmes = programmes
        phone = _text(padded[at["phone"]])
        if phone and phone not in ("-", "0"):
            try:
                row.phone = normalize_mobile(phone)
            except ValidationError as exc:
                raise _RowRefused("phone", exc.message) from None
        dtks_id = _text(padded[at["dtks_id"]])
        row.dtks_id = dtks_id[:32] or None
        row.nik_hash = self._nik_hash(row.nik)
        return row

    def _kk(self, cell) -> tuple[str, str]:
        """The KK number of a cell and its keyed hash."""
        kk = identifier(cell, "kk")
        return kk, self._kk_hash(kk)


def _or_refusal(parse: Callable, *args):
    """``parse(*args)``, or the _RefusedValue of its refusal (to remember and raise later)."""
    try:
        return parse(*args)
    except _RowRefused as exc:
        return _RefusedValue(exc.key, exc.message)


@dataclass(frozen=True)
class _RefusedValue:
    """A remembered refusal (the field's key and the message)."""

    key: str
    message: object


class _Run:
    """One pass over a file: the state that lives from batch to batch."""

    def __init__(self, record: ResidentImport, actor: Actor, columns: Columns) -> None:
        self.record, self.columns, self.dry_run = record, columns, record.is_dry_run
        self.as_of = record.as_of
        self.villages = district_villages(actor)
        self.seen_nik: set[int] = set()
        self.seen_kk: set[int] = set()
        self.counts = _Counts()
        self.errors_kept = 0
        self.parser = Parser(columns, self.villages, clock.today())
        #: Where the batches' writes go (run() sets a _Pipeline on PostgreSQL).
        self.out: _Here | _Pipeline = _Here()
        #: The households the batch before created, by KK hash (its writes may still be in flight).
        self.created_kk: dict[str, int] = {}
        self.rows_done = 0
        #: The record's figures as of the batch in flight (_Pipeline), set once it is committed.
        self.sent_figures: dict | None = None

    # One batch -----------------------------------------------------------------------------------------

    def match(self, parsed: list[_Row], refused: list) -> list[tuple[int, list, str, object]]:
        """Match checked rows with the database and (unless a dry run) write them; returns the refused rows."""
        rows = []
        for row in parsed:
            key = _key(row.nik_hash)
            if key in self.seen_nik:
                refused.append((row.number, _cells(row), "nik", _l("This NIK is on an earlier row of the file too (a "
                                                         "duplicate): only the first row was taken.")))
                continue
            self.seen_nik.add(key)
            rows.append(row)
        households = self._households(rows)
        self._residents(rows, households, refused)
        return refused

    def _households(self, rows: list[_Row]) -> dict[str, int]:
        """The household id of every KK of the batch (None for a new one in a dry run), created or
        updated from the KK's first row in the file."""
        hashes = {row.kk_hash for row in rows}
        found = _find(select(_HOUSEHOLD.c.id, _HOUSEHOLD.c.kk_hash, _HOUSEHOLD.c.dtsen_as_of,
                             *(_HOUSEHOLD.c[key] for key in _HOUSEHOLD_COMPARED)), _HOUSEHOLD.c.kk_hash, hashes)
        # A family new to the database has no id in a dry run: -1 stands for it (it equals no member's).
        # A family created by the batch before may not be committed yet (the writer's, see _Pipeline): its id
        # is remembered until then.
        ids: dict[str, int] = {h: (found[h][0] if h in found else self.created_kk.get(h, -1)) for h in hashes}
        new, changed, changes, touched = [], [], [], []
        for row in rows:
            key = _key(row.kk_hash)
            if key in self.seen_kk:
                continue
            self.seen_kk.add(key)
            current = found.get(row.kk_hash)
            if current is None:
                self.counts.households_created += 1
                new.append(row)
                continue
            current_id, as_of, stored = current[0], current[2], current[3:]
            if as_of is not None and as_of > self.as_of:
                continue  # newer data is kept; the members' rows say so
            given = (row.address, row.village_id, row.desil, row.dtks_id)  # in _HOUSEHOLD_COMPARED's order
            if given == tuple(stored):
                self.counts.households_unchanged += 1
                if as_of != self.as_of:
                    touched.append(current_id)
                continue
            self.counts.households_updated += 1
            changed.append({"b_id": current_id, **dict(zip(_HOUSEHOLD_COMPARED, given, strict=True)),
                            "dtsen_as_of": self.as_of})
            changes.append({"household_id": current_id,
                            "changes": {k: (None if k in ("address", "dtks_id") else [old, v])
                                        for k, v, old in zip(_HOUSEHOLD_COMPARED, given, stored, strict=True)
                                        if old != v}})
        if self.dry_run:
            return ids
        if new:
            now = clock.now()
            created = self.out.insert(_HOUSEHOLD, ("kk_encrypted", "kk_hash", "kk_masked", "address", "village_id",
                                                   "desil", "dtks_id", "dtsen_as_of", "created_at"),
                                      [(token, row.kk_hash, mask(row.kk), row.address, row.village_id, row.desil,
                                        row.dtks_id, self.as_of, now)
                                       for token, row in zip(vault.encrypt_many([row.kk for row in new]), new,
                                                             strict=True)])
            created_kk = {row.kk_hash: household_id for household_id, row in zip(created, new, strict=True)}
            ids.update(created_kk)
            self.created_kk = created_kk
        else:
            self.created_kk = {}
        if changed:
            self.out.execute(update(_HOUSEHOLD).where(_HOUSEHOLD.c.id == bindparam("b_id")), changed)
        if touched:
            self.out.execute(update(_HOUSEHOLD).where(_HOUSEHOLD.c.id.in_(touched)).values(dtsen_as_of=self.as_of))
        self._changes(changes)
        return ids

    def _residents(self, rows: list[_Row], households: dict[str, int], refused: list) -> None:
        # The row's values by position (a stored row's attributes by name cost a microsecond each).
        found = _find(select(_RESIDENT.c.id, _RESIDENT.c.nik_hash, _RESIDENT.c.dtsen_as_of,
                             *(_RESIDENT.c[key] for key in _RESIDENT_COMPARED)),
                      _RESIDENT.c.nik_hash, [row.nik_hash for row in rows])
        new, changed, renamed, changes, touched = [], [], [], [], []
        for row in rows:
            current = found.get(row.nik_hash)
            if current is None:
                self.counts.created += 1
                new.append(row)
                continue
            current_id, as_of, stored = current[0], current[2], current[3:]
            if as_of is not None and as_of > self.as_of:
                refused.append((row.number, _cells(row), "", _l(
                    "The database holds newer DTSEN data for this person (as of %(kept)s) than this file "
                    "(as of %(file)s): the row was not taken.",
                    kept=as_of.isoformat(), file=self.as_of.isoformat())))
                continue
            # In _RESIDENT_COMPARED's order; a file without the phone number keeps the one known.
            given = (row.name, row.village_id, row.address, households.get(row.kk_hash), row.status, row.programmes,
                     row.relation, row.birth_place, row.phone or stored[8])
            if given == tuple(stored):
                self.counts.unchanged += 1
                if as_of != self.as_of:
                    touched.append(current_id)
                continue
            values = dict(zip(_RESIDENT_COMPARED, given, strict=True))
            diff = {k: (old, v) for k, v, old in zip(_RESIDENT_COMPARED, given, stored, strict=True) if old != v}
            self.counts.updated += 1
            changed.append({"b_id": current_id, **values, "dtsen_as_of": self.as_of})
            if "name" in diff:
                renamed.append((current_id, row.name))
            changes.append({"resident_id": current_id, "changes": {
                k: (None if k in ("name", "address", "phone", "birth_place") else [_plain(old), _plain(v)])
                for k, (old, v) in diff.items()}})
        if self.dry_run:
            return
        now = clock.now()
        if new:
            created = self.out.insert(_RESIDENT, _RESIDENT_COLUMNS, [
                (token, row.nik_hash, mask(row.nik), row.name, row.sex.value,
                 row.birth_date, households.get(row.kk_hash), row.village_id, row.address, row.phone, "own", False,
                 "id", row.status.value, row.programmes, self.as_of, row.relation, row.birth_place, now)
                for token, row in zip(vault.encrypt_many([row.nik for row in new]), new, strict=True)])
            words = [(word, resident_id) for resident_id, row in zip(created, new, strict=True)
                     for word in name_words(row.name)]
            if words:
                self.out.insert(_NAME_WORD, ("word", "resident_id"), words, ids=False)
        if changed:
            self.out.execute(update(_RESIDENT).where(_RESIDENT.c.id == bindparam("b_id")), changed)
        if renamed:
            ids = [resident_id for resident_id, _name in renamed]
            self.out.execute(delete(_NAME_WORD).where(_NAME_WORD.c.resident_id.in_(ids)))
            self.out.execute(insert(_NAME_WORD), [{"word": word, "resident_id": resident_id}
                                                  for resident_id, name in renamed for word in name_words(name)])
        if touched:
            for chunk in _chunks(touched, 1000):
                self.out.execute(update(_RESIDENT).where(_RESIDENT.c.id.in_(chunk)).values(dtsen_as_of=self.as_of))
        self._changes(changes)

    def _changes(self, changes: list[dict]) -> None:
        if changes and not self.dry_run:
            now = clock.now()
            self.out.execute(insert(DtsenChange.__table__), [{"import_id": self.record.id, "resident_id": None,
                                                              "household_id": None, "at": now, **c} for c in changes])

    def keep_errors(self, refused: list) -> None:
        self.counts.refused += len(refused)
        kept = refused[:max(MAX_KEPT_ERRORS - self.errors_kept, 0)]
        if not kept:
            return
        self.errors_kept += len(kept)
        tokens = vault.encrypt_many([json.dumps([_text(c) for c in cells]) for _number, cells, _key, _message in kept])
        self.out.insert(ResidentImportError.__table__, ("import_id", "row_number", "column", "message",
                                                        "cells_encrypted"),
                        [(self.record.id, number, self.columns.header_of(key)[:120] if key else "", str(message), token)
                         for (number, _cells, key, message), token in zip(kept, tokens, strict=True)], ids=False)


#: What a file says of a household already known, compared with what is stored (in this order).
_HOUSEHOLD_COMPARED = ("address", "village_id", "desil", "dtks_id")
#: What a file says of a resident already known, compared with what is stored (in this order).
_RESIDENT_COMPARED = ("name", "village_id", "address", "household_id", "dtsen_status", "dtsen_programmes",
                      "family_relation", "birth_place", "phone")
_RESIDENT_COLUMNS = ("nik_encrypted", "nik_hash", "nik_masked", "name", "sex", "birth_date",
                     "household_id", "village_id", "address", "phone", "phone_owner", "is_sms_opted_out", "language",
                     "dtsen_status", "dtsen_programmes", "dtsen_as_of", "family_relation", "birth_place", "created_at")


def _find(statement, key_column, keys) -> dict:
    """The rows of ``statement`` whose ``key_column`` is one of ``keys``, by that key.

    On PostgreSQL one query takes the keys as one array (= ANY): a statement of a thousand placeholders
    costs more to build and parse than to run. The array is sent as one text, the keys joined by commas
    (hex digits: no comma in them), which the server splits: an array parameter costs the driver 4 µs a key.
    """
    keys = list(keys)
    if not keys:
        return {}
    at = [column.key for column in statement.selected_columns].index(key_column.key)
    if db.session.get_bind().dialect.name == "postgresql":
        given = func.string_to_array(bindparam("keys", ",".join(keys), type_=String), ",",
                                     type_=postgresql.ARRAY(String))
        rows = db.session.execute(statement.where(key_column == any_(given)))
        return {row[at]: row for row in rows}
    found = {}
    for chunk in _chunks(keys, 500):
        for row in db.session.execute(statement.where(key_column.in_(chunk))):
            found[row[at]] = row
    return found


def _insert(connection, table, columns: tuple[str, ...], rows: list[tuple], *, ids: bool = True) -> list[int]:
    """Insert ``rows`` (tuples in ``columns``' order) into ``table`` on ``connection``; returns their new
    ids, in order.

    On PostgreSQL the ids are drawn from the table's sequence first and the rows sent with COPY (the
    fastest way in, about ten times an INSERT's); elsewhere one executemany INSERT ... RETURNING.
    """
    if not rows:
        return []
    if connection.dialect.name != "postgresql":
        statement = insert(table)
        if ids:
            statement = statement.returning(table.c.id, sort_by_parameter_order=True)
            return list(connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])
                        .scalars())
        connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])
        return []
    new_ids = _new_ids(connection, table, len(rows)) if ids else []
    if ids:
        columns, rows = ("id", *columns), [(i, *row) for i, row in zip(new_ids, rows, strict=True)]
    _copy(connection, table, columns, rows)
    return new_ids


def _new_ids(connection, table, count: int) -> list[int]:
    """``count`` ids drawn from ``table``'s sequence (PostgreSQL; taken at once, whatever the transaction),
    sent back as one text: a row each costs the driver ten times more."""
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.execute(f"SELECT string_agg(nextval(pg_get_serial_sequence('{table.name}', 'id'))::text, ',') "
                       "FROM generate_series(1, %s)", (count,))
        return list(map(int, cursor.fetchone()[0].split(",")))


def _copy(connection, table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """``rows`` into ``table`` with COPY (PostgreSQL), in its binary format: a third of the driver's time
    of the text format (dates and times above all), and less of the server's. The columns' types, which
    that format needs, are the table's as the database has them."""
    names = ", ".join(f'"{column}"' for column in columns)
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.execute("SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                       "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (f'"{table.name}"',))
        types = dict(cursor.fetchall())
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([types[column] for column in columns])
            for row in rows:
                copy.write_row(row)


class _Here:
    """A batch's writes done here and now, in the session's transaction (SQLite; a session bound to one
    connection, as tests have it; a single batch)."""

    def insert(self, table, columns: tuple[str, ...], rows: list[tuple], *, ids: bool = True) -> list[int]:
        return _insert(db.session.connection(), table, columns, rows, ids=ids)

    def execute(self, statement, parameters=None) -> None:
        db.session.execute(statement, parameters)


class _Pipeline:
    """PostgreSQL: a batch's writes done by a thread on a connection of its own, while this process
    checks and matches the next batch (the server's work on one overlaps the Python work on the other).

    One batch at most is in flight: :meth:`send` waits for the one before, so what a batch reads is the
    database as every batch but the one before left it. The importer keeps what the one before created
    and the next may need (its households' ids, ``_Run.created_kk``); a resident is never in two
    batches (a NIK met twice is refused). New rows' ids are drawn here from the sequences, so a batch is
    written whole by the thread, with the run's figures (``record_id``'s row) in the same commit. The
    importer's own session only reads meanwhile, and never writes that row before the end: the two
    would wait for each other. The thread's error comes back from :meth:`send` or :meth:`wait`.
    """

    def __init__(self, engine: Engine, record_id: int) -> None:
        self.connection, self.record_id = engine.connect(), record_id
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="dtsen-import-writer")
        self.ops: list[Callable] = []
        self.sent = None

    def insert(self, table, columns: tuple[str, ...], rows: list[tuple], *, ids: bool = True) -> list[int]:
        if not rows:
            return []
        new_ids = _new_ids(db.session.connection(), table, len(rows)) if ids else []
        if ids:
            columns, rows = ("id", *columns), [(i, *row) for i, row in zip(new_ids, rows, strict=True)]
        self.ops.append(lambda connection: _copy(connection, table, columns, rows))
        return new_ids

    def execute(self, statement, parameters=None) -> None:
        self.ops.append(lambda connection: connection.execute(statement, parameters))

    def send(self, figures: dict) -> bool:
        """Hand this batch's writes and the run's ``figures`` after it to the thread once it wrote the one
        before; whether there was one."""
        self.execute(update(ResidentImport.__table__).where(ResidentImport.__table__.c.id == self.record_id)
                     .values(figures))
        before = self.wait()
        ops, self.ops = self.ops, []
        self.sent = self.thread.submit(self._write, ops)
        return before

    def wait(self) -> bool:
        """Wait for the batch in flight to be written and committed; whether there was one."""
        sent, self.sent = self.sent, None
        if sent is None:
            return False
        sent.result()
        return True

    def _write(self, ops: list[Callable]) -> None:
        with self.connection.begin():
            self.connection.exec_driver_sql(_BATCH_SETTINGS)
            for op in ops:
                op(self.connection)

    def close(self) -> None:
        """Stop the thread once the batch in flight is written (committed if it can be: as it would be one
        batch at a time), and give back the connection."""
        self.thread.shutdown(wait=True)
        self.connection.close()


def _plain(value):
    return value.value if isinstance(value, (DtsenStatus, Sex)) else value


def _address(address, dusun, rt, rw) -> str:
    """The address as one line: "Jl. Mawar 3, RT 002/RW 004, Dusun Krajan" (what the file has of it)."""
    parts = [" ".join(_text(address).split())]
    rt_text, rw_text = _text(rt).lstrip("0") or _text(rt), _text(rw).lstrip("0") or _text(rw)
    if rt_text or rw_text:
        parts.append("/".join(p for p in (f"RT {rt_text.zfill(3)}" if rt_text else "",
                                          f"RW {rw_text.zfill(3)}" if rw_text else "") if p))
    if _text(dusun):
        dusun_text = " ".join(_text(dusun).split())
        if dusun_text.lower() not in parts[0].lower():
            parts.append(f"Dusun {dusun_text}" if not dusun_text.lower().startswith("dusun") else dusun_text)
    return ", ".join(p for p in parts if p)[:255]


def _batches(rows: Iterator[tuple[int, list]]) -> Iterator[list[tuple[int, list]]]:
    """The file's non-blank rows, BATCH_ROWS at a time."""
    batch: list = []
    for number, cells in rows:
        if _has_text(cells):
            batch.append((number, cells))
            if len(batch) >= BATCH_ROWS:
                yield batch
                batch = []
    if batch:
        yield batch


#: Files this long are checked by several processes (starting them costs about a second).
POOL_ROWS = 50_000


def _processes(rows: int) -> int:
    """How many processes check a file of ``rows`` rows: SLRT_IMPORT_PROCESSES, or one per CPU for a
    long file (the database and this process take turns with them)."""
    if multiprocessing.current_process().daemon:  # a daemonic worker process may not start others
        return 1
    configured = current_app.config.get("SLRT_IMPORT_PROCESSES")
    if configured:
        return int(configured)
    return min(os.cpu_count() or 1, 4) if rows >= POOL_ROWS else 1


_pool_parser: Parser | None = None


def _pool_start(config: dict, parser: Parser) -> None:
    """A checking process: an app with the vault's keys and the messages' language, and the parser."""
    global _pool_parser
    app = Flask("slrt")
    app.config.update(config)
    vault.init_app(app)
    babel.init_app(app, locale_selector=lambda: config["BABEL_DEFAULT_LOCALE"],
                   default_translation_directories="translations")
    app.app_context().push()
    _pool_parser = parser
    gc.freeze()  # the app, set up once: never looked at again by the collector
    gc.set_threshold(_GC_ALLOCATIONS, *gc.get_threshold()[1:])


def _pool_parse(batch: list) -> tuple[list[tuple], list]:
    rows, refused = _pool_parser.parse_batch(batch)
    return [row.plain() for row in rows], refused


def _pool_parse_text(start: int, text: str, delimiter: str) -> tuple[list[tuple], list]:
    """_pool_parse() of a batch sent as text (_csv_text_batches)."""
    try:
        batch = _text_rows(start, text, delimiter)
    except csv.Error as exc:
        raise _Damaged(str(exc)[:100]) from None
    return _pool_parse(batch)


class _Damaged(Exception):
    """A checking process could not read a batch's text as CSV (the importer refuses the file, as its reader would)."""


class _BatchCells:
    """The cells of a batch sent as text, by row number, read from the text when first asked for (a row
    refused by the importer itself: a NIK met twice, newer data held)."""

    def __init__(self, start: int, text: str, delimiter: str) -> None:
        self.start, self.text, self.delimiter = start, text, delimiter
        self.cells: dict[int, list] | None = None
        self.lines: list[str] | None = None

    def of(self, number: int) -> list | None:
        if self.lines is None and self.cells is None:
            if '"' in self.text:
                self.cells = dict(_text_rows(self.start, self.text, self.delimiter))
            else:  # each line is one row (as _csv_text_batches cut them): only the rows asked for are read
                self.lines = list(io.StringIO(self.text, newline=""))
        if self.lines is not None:
            at = number - self.start
            return next(csv.reader(self.lines[at:at + 1], delimiter=self.delimiter), None)
        return self.cells.get(number)


class _ParserPool:
    """Processes checking batches while this one matches and writes the ones before, in file order;
    a few batches ahead at most, so memory stays flat whatever the file's length. A process that dies
    stops the run with an error (BrokenProcessPool), never a hang."""

    def __init__(self, processes: int, parser: Parser) -> None:
        config = {key: current_app.config[key] for key in ("SLRT_PII_KEY", "BABEL_DEFAULT_LOCALE",
                                                            "BABEL_DEFAULT_TIMEZONE")}
        self.ahead = processes * 2
        self.pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_pool_start, initargs=(config, parser))

    def parse(self, batches: Iterator[list]) -> Iterator[tuple[list[_Row], list]]:
        return self._in_order((self.pool.submit(_pool_parse, batch), batch) for batch in batches)

    def parse_text(self, batches: Iterator[tuple[int, str]], delimiter: str) -> Iterator[tuple[list[_Row], list]]:
        """parse() of a CSV's batches as text (_csv_text_batches): the rows come back without their cells,
        which :func:`_BatchCells` reads again from the text if the importer needs one."""
        return self._in_order((self.pool.submit(_pool_parse_text, start, text, delimiter),
                               _BatchCells(start, text, delimiter)) for start, text in batches)

    def _in_order(self, submitted: Iterator) -> Iterator[tuple[list[_Row], list]]:
        pending: collections.deque = collections.deque()
        for parsing, cells in submitted:
            pending.append((parsing, cells))
            if len(pending) >= self.ahead:
                yield self._result(*pending.popleft())
        while pending:
            yield self._result(*pending.popleft())

    @staticmethod
    def _result(parsing, batch) -> tuple[list[_Row], list]:
        """A batch's checked rows, given back their cells (they come without: see _Row.plain)."""
        try:
            rows, refused = parsing.result()
        except _Damaged as exc:
            raise _damaged(exc) from None
        cells_of = (lambda _number: batch) if isinstance(batch, _BatchCells) else dict(batch).get
        return _rows_from(rows, cells_of), refused

    def __enter__(self) -> _ParserPool:
        return self

    def __exit__(self, *_exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


#: Allocations between two of the garbage collector's rounds during an import (Python's default: 700).
#: Rows make few reference cycles but many objects: at 700 the collector took a fifth of the importer's time.
_GC_ALLOCATIONS = 50_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while the block runs (memory: a few MB more at most)."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], _GC_ALLOCATIONS), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start_ in range(0, len(items), size):
        yield items[start_:start_ + size]


def run(import_id: int, path: str | Path, *, actor: Actor | None = None,
        progress: Callable[[ResidentImport], None] | None = None, table: Table | None = None) -> ResidentImport:
    """Do the import recorded as ``import_id`` from the file at ``path``, a batch per commit.

    The record says how far it is after each batch (``rows_done``, counts); at the end it is DONE
    with its counts, or FAILED with the reason (the batches before stay: importing again is safe).
    ``actor`` is who started it (their rights are checked again: they may have changed since).
    ``table`` is the file as this process opened it for :func:`start`, its rows not read yet: a
    workbook is then not read a second time (1.5 s for 100,000 rows).
    """
    begin_write()  # SQLite: the record is read then written while pages (and their audit entries) commit
    record = db.session.get(ResidentImport, import_id)
    if record is None:
        raise LookupError(f"no import {import_id}")
    if record.state in (ImportState.DONE, ImportState.FAILED):
        return record  # a worker's task delivered again after it finished
    started = time.monotonic()
    actor = actor or (record.staff if record.staff is not None else SYSTEM_ACTOR)
    record.state, record.started_at = ImportState.RUNNING, clock.now()
    record.rows_done = 0
    # A run delivered again after a worker died starts over (every row is matched, nothing doubles).
    db.session.execute(delete(ResidentImportError).where(ResidentImportError.import_id == import_id))
    db.session.commit()
    try:
        check_may_import(actor)
        if not os.path.exists(path):
            raise ImportRefused(_l("The uploaded file is not on this server any more; upload it again."))
        table = table if table is not None else open_table(path)
        columns = Columns(headers=table.headers, unknown=[],
                          found={key: table.headers.index(header) for key, header in record.columns.items()
                                 if key in FIELDS and header in table.headers})
        state = _Run(record, actor, columns)
        state.parser.typed = table.csv_format is None
        processes = _processes(record.rows_total)
        bind = db.session.get_bind()
        if bind.dialect.name == "postgresql" and isinstance(bind, Engine):  # not a test's one connection
            state.out = _Pipeline(bind, record.id)
        try:
            if processes > 1:
                with _ParserPool(processes, state.parser) as pool, _fewer_collections():
                    for parsed, refused in _checked_batches(pool, table, path):
                        _one_batch(state, record, parsed, refused, progress)
            else:
                with _fewer_collections():
                    for batch in _batches(table.rows):
                        _one_batch(state, record, *state.parser.parse_batch(batch), progress)
            if isinstance(state.out, _Pipeline) and state.out.wait():
                _written(record, state.sent_figures, progress)
        finally:
            if isinstance(state.out, _Pipeline):
                state.out.close()
        begin_write()
        record.state, record.finished_at = ImportState.DONE, clock.now()
        record.rows_total = record.rows_done
        runs.record("import_residents", seconds=time.monotonic() - started, items=record.rows_done)
        _audit(record, actor)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        begin_write()
        record = db.session.get(ResidentImport, import_id)
        record.state, record.finished_at = ImportState.FAILED, clock.now()
        record.failure = str(exc.message if isinstance(exc, DomainError) else
                             _l("The import stopped on an unexpected error; the rows before it are kept. "
                                "Importing the file again is safe."))
        runs.record("import_residents", seconds=time.monotonic() - started, items=record.rows_done, ok=False)
        _audit(record, actor)
        db.session.commit()
        if not isinstance(exc, DomainError):
            log.exception("residents' import %s failed", import_id)
    if progress is not None:
        progress(record)
    return record


def _checked_batches(pool: _ParserPool, table: Table, path) -> Iterator[tuple[list[_Row], list]]:
    """The file's batches as the pool checked them: a CSV's as text (unless a NUL byte is in it: its
    row is then named by the reader here), a workbook's as cells."""
    csv_format = table.csv_format
    if csv_format is None or csv_format.has_nul:
        return pool.parse(_batches(table.rows))
    if hasattr(table.rows, "close"):
        table.rows.close()  # read again from after the header, as text
    return pool.parse_text(_csv_text_batches(path, csv_format, table.header_number, BATCH_ROWS),
                           csv_format.delimiter)


def _audit(record: ResidentImport, actor: Actor) -> None:
    """The run's one audit entry: its counts (the rows bypass the ORM, whose changes are logged one by one;
    each resident's change is in dtsen_change)."""
    audit.record(AuditAction.IMPORT, record=("import", record.id), actor=actor, rows=record.rows_done, detail={
        "state": record.state.value, "dry_run": record.is_dry_run, "as_of": record.as_of.isoformat(),
        "sha256": record.sha256, "residents_created": record.residents_created,
        "residents_updated": record.residents_updated, "households_created": record.households_created,
        "households_updated": record.households_updated, "rows_refused": record.rows_refused})


def _one_batch(state: _Run, record: ResidentImport, parsed: list[_Row], refused: list, progress) -> None:
    """Match and write a batch; the record says so once it is committed (with it, or after it: _Pipeline)."""
    state.rows_done += len(parsed) + len(refused)
    begin_write()  # SQLite: the batch reads then writes; its write lock first, or another writer wins
    pipeline = isinstance(state.out, _Pipeline)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sql_text(_BATCH_SETTINGS))
    refused = state.match(parsed, refused)
    state.keep_errors(refused)
    counts = state.counts
    figures = {"rows_done": state.rows_done, "residents_created": counts.created,
               "residents_updated": counts.updated, "residents_unchanged": counts.unchanged,
               "rows_refused": counts.refused, "households_created": counts.households_created,
               "households_updated": counts.households_updated, "households_unchanged": counts.households_unchanged}
    figures["rows_total"] = max(record.rows_total, state.rows_done)
    if not pipeline:
        for key, value in figures.items():
            setattr(record, key, value)
        db.session.commit()
        if progress is not None:
            progress(record)
    else:
        if state.out.send(figures):
            _written(record, state.sent_figures, progress)
        state.sent_figures = figures


#: A batch's transaction on PostgreSQL. Its commit does not wait for the disk (4-5 ms a batch): a crash
#: loses at most the last batches, which importing the file again redoes; the database stays consistent
#: either way. And its keys are looked up through their unique indexes: the planner, costing a page read
#: as a disk's, scans the whole table for a thousand keys once it holds a few hundred thousand rows (4 to
#: 10 times slower, and more as the table grows).
_BATCH_SETTINGS = "SELECT set_config('synchronous_commit', 'off', true), set_config('enable_seqscan', 'off', true)"


def _written(record: ResidentImport, figures: dict, progress) -> None:
    """The record as the writer committed it with its batch (_Pipeline): its figures set as loaded, not
    to be written again by this session."""
    for key, value in figures.items():
        set_committed_value(record, key, value)
    if progress is not None:
        progress(record)


def import_file(path: str | Path, *, filename: str, actor: Actor, as_of: date, dry_run: bool = False,
                mapping: dict[str, str] | None = None,
                progress: Callable[[ResidentImport], None] | None = None) -> ResidentImport:
    """Record and run an import in this process (the CLI; tests): :func:`start`, commit, :func:`run`;
    the file opened once."""
    table = open_table(path)
    record = start(path, filename=filename, actor=actor, as_of=as_of, dry_run=dry_run, mapping=mapping, table=table)
    db.session.commit()
    return run(record.id, path, actor=actor, progress=progress, table=table)


# --- The refused rows, to fix and import again ---------------------------------------------------------------


def refused_rows(record: ResidentImport) -> tuple[list[str], Iterator[list[str]]]:
    """The header row (the file's, and "Galat") and every refused row as it was, with its error."""
    headers = _headers_of(record)
    error_header = str(_l("Error"))

    def rows():
        for error in db.session.scalars(select(ResidentImportError).where(ResidentImportError.import_id == record.id)
                                        .order_by(ResidentImportError.row_number)):
            cells = json.loads(vault.decrypt(error.cells_encrypted))
            cells = cells + [""] * (len(headers) - len(cells))
            where = _l("row %(row)s", row=error.row_number)
            column = f", {error.column}" if error.column else ""
            yield [*cells[:len(headers)], f"{where}{column}: {error.message}"]

    return [*headers, error_header], rows()


def _headers_of(record: ResidentImport) -> list[str]:
    """Every header of the file, unknown ones too, in its order (start() keeps them); as many blanks
    as a refused row has cells past them."""
    headers = [str(h) for h in record.columns.get(ALL_HEADERS, [])]
    first = db.session.scalar(select(ResidentImportError).where(ResidentImportError.import_id == record.id).limit(1))
    width = len(json.loads(vault.decrypt(first.cells_encrypted))) if first is not None else 0
    return headers + [""] * max(width - len(headers), 0)


def describe(record: ResidentImport) -> list[str]:
    """The result in lines for the CLI and logs (counts only, no personal data)."""
    lines = [str(_l("Rows: %(done)s read, %(refused)s refused.", done=record.rows_done, refused=record.rows_refused)),
             str(_l("Residents: %(created)s new, %(updated)s updated, %(unchanged)s unchanged.",
                    created=record.residents_created, updated=record.residents_updated,
                    unchanged=record.residents_unchanged)),
             str(_l("Households: %(created)s new, %(updated)s updated, %(unchanged)s unchanged.",
                    created=record.households_created, updated=record.households_updated,
                    unchanged=record.households_unchanged))]
    if record.is_dry_run:
        lines.insert(0, str(_l("Dry run: nothing was written.")))
    if record.failure:
        lines.append(record.failure)
    return lines


