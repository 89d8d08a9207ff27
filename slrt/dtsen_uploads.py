"""DTSEN files uploaded on the import screen, and the imports a staff member may see.

An uploaded file waits in :func:`slrt.dtsen_import.upload_dir` under a random name, never the
user's file name: ``u-<random>`` until its import is recorded, then ``i<import id>-<random>``.
The worker deletes it once a real import has run. After a dry run it is kept, so that "Import
this file now" needs no second upload, until that import or until it is older than a day
(:data:`KEEP`; :func:`remove_stale` runs at each upload and after each import). Nothing
else in that folder is ever touched.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, select, true

from slrt import xlsxout
from slrt.access import Coverage
from slrt.csvout import lines
from slrt.dtsen_import import ALL_HEADERS, ImportRefused, refused_rows, upload_dir
from slrt.extensions import db
from slrt.models import ResidentImport, ResidentImportError
from slrt.pii import mask, vault

#: How long a file whose real import has not run (a dry run's, an abandoned upload) is kept.
KEEP = timedelta(days=1)
_NAME = re.compile(r"^(u|i[0-9]{1,12})-([0-9a-f]{32})$")
_CHUNK = 1 << 20
#: Runs of digits as long as a NIK or KK (or a spreadsheet's damaged copy of one) in a message.
_LONG_NUMBER = re.compile(r"\d[\d.,E+]{13,}\d")


def max_bytes() -> int:
    return current_app.config["SLRT_IMPORT_MAX_MB"] * 1024 * 1024


def too_large() -> ImportRefused:
    return ImportRefused(_l("The file is too large: at most %(mb)s MB. Split it (per kecamatan, for example) "
                            "or import it on the server with flask slrt import-residents.",
                            mb=current_app.config["SLRT_IMPORT_MAX_MB"]))


def save(stream: BinaryIO) -> Path:
    """Copy an upload to the upload folder a chunk at a time under a new random name; the path.

    More than :func:`max_bytes` is refused (ImportRefused) and nothing is kept."""
    folder = upload_dir()
    path = folder / f"u-{secrets.token_hex(16)}"
    limit, written = max_bytes(), 0
    try:
        with open(path, "xb") as out:
            os.chmod(path, 0o600)
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                written += len(chunk)
                if written > limit:
                    raise too_large()
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def token_of(path: Path) -> str:
    """The random part of an upload's name (what a form carries to name it)."""
    match = _NAME.match(path.name)
    if match is None:
        raise ValueError("not an upload")
    return match.group(2)


def pending(token: str) -> Path | None:
    """The uploaded file not yet claimed by an import, named by its random part; None if gone or not one."""
    if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{32}", token):
        return None
    path = upload_dir() / f"u-{token}"
    return path if path.is_file() else None


def claim(path: Path, import_id: int) -> Path:
    """Give the file of a recorded import its name (``i<id>-<random>``); the new path."""
    target = path.with_name(f"i{int(import_id)}-{token_of(path)}")
    os.replace(path, target)
    return target


def of_import(import_id: int) -> Path | None:
    """The file an import was recorded for, while it is still here."""
    for path in upload_dir().glob(f"i{int(import_id)}-*"):
        if _NAME.match(path.name) and path.is_file():
            return path
    return None


def _ours(path: str | Path) -> Path | None:
    """``path`` when it is an upload's name directly inside the upload folder (never anything else)."""
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if resolved.parent != upload_dir().resolve() or not _NAME.match(resolved.name):
        return None
    return resolved


def remove(path: str | Path) -> bool:
    """Delete an uploaded file; a path outside the upload folder (or not an upload's name) is left alone."""
    ours = _ours(path)
    if ours is None:
        return False
    ours.unlink(missing_ok=True)
    return True


def remove_stale(older_than: timedelta = KEEP) -> int:
    """Delete the uploads older than ``older_than`` (a dry run's file never imported, an abandoned upload)."""
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    for path in upload_dir().iterdir():
        try:
            if _NAME.match(path.name) and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        except OSError:
            continue
    return removed


# --- What a staff member sees ------------------------------------------------------------------------


def seen_by(cover: Coverage) -> ColumnElement[bool]:
    """The imports a staff member may see (and download the refused rows of): all of them for the
    secretariat's staff, who cover every unit; a Puskesos's own imports for its staff."""
    if cover.every_unit:
        return true()
    return ResidentImport.unit_id.in_(sorted(cover.unit_ids))


@dataclass
class RefusedRow:
    row: int
    column: str
    #: The cell at fault, masked when it is a NIK or KK column (empty when the row as a whole was refused).
    value: str
    nik: str
    name: str
    message: str


def _masked(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    return mask(value) if len(value) >= 8 else "*" * len(value)


def masked_message(message: str) -> str:
    """A refusal's words with any NIK-long number in them masked (a damaged NIK is quoted)."""
    return _LONG_NUMBER.sub(lambda m: _masked(m.group(0)), message)


def fields_of(record: ResidentImport) -> dict[str, str]:
    """Field key -> the file's header, as the import read the file."""
    return {key: header for key, header in (record.columns or {}).items()
            if key != ALL_HEADERS and isinstance(header, str)}


def first_refused(record: ResidentImport, limit: int = 20) -> list[RefusedRow]:
    """The first refused rows for the screen: where and why, NIK and KK cells masked."""
    fields = fields_of(record)
    headers = (record.columns or {}).get(ALL_HEADERS)
    headers = headers if isinstance(headers, list) else list(fields.values())
    position = {}
    for index, header in enumerate(headers):
        position.setdefault(header, index)
    secret = {fields.get("nik"), fields.get("kk")} - {None}
    found = []
    for error in db.session.scalars(select(ResidentImportError).where(ResidentImportError.import_id == record.id)
                                    .order_by(ResidentImportError.row_number).limit(limit)):
        cells = json.loads(vault.decrypt(error.cells_encrypted))
        cell = _cells_reader(cells, position)
        value = cell(error.column) if error.column else ""
        if error.column in secret:
            value = _masked(value)
        found.append(RefusedRow(row=error.row_number, column=error.column, value=masked_message(value[:60]),
                                nik=_masked(cell(fields.get("nik"))), name=cell(fields.get("name"))[:80],
                                message=masked_message(error.message)))
    return found


def masked_refused_rows(record: ResidentImport) -> tuple[list[str], Iterable[list[str]]]:
    """The refused rows' download for everyone but a manager who gives a reason: as
    :func:`slrt.dtsen_import.refused_rows` (every cell as in the file, the error last), with the NIK and
    KK columns masked and any NIK-long number in the error masked; the row numbers say what to fix."""
    header, rows = refused_rows(record)
    fields = fields_of(record)
    secret = {fields.get("nik"), fields.get("kk")} - {None}
    columns = [index for index, name in enumerate(header[:-1]) if name in secret]

    def masked():
        for row in rows:
            row = list(row)
            for index in columns:
                if index < len(row) - 1:
                    row[index] = _masked(str(row[index]))
            row[-1] = masked_message(row[-1])
            yield row

    return header, masked()


def _cells_reader(cells: list, position: dict[str, int]):
    def cell(header: str | None) -> str:
        index = position.get(header) if header else None
        return str(cells[index]) if index is not None and index < len(cells) else ""

    return cell


# --- The refused rows as files -------------------------------------------------------------------------


def write_csv(path: str | Path, header: list[str], rows: Iterable[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        for line in lines(itertools.chain([header], rows)):
            out.write(line)


def write_xlsx(path: str | Path, header: list[str], rows: Iterable[list[str]]) -> None:
    xlsxout.write_rows(path, str(_l("Refused rows")), header, rows)


def write(path: str | Path, header: list[str], rows: Iterable[list[str]]) -> None:
    """The refused rows in the file at ``path``: XLSX for a name ending in .xlsx, else CSV (UTF-8, BOM)."""
    (write_xlsx if str(path).lower().endswith(".xlsx") else write_csv)(path, header, rows)

