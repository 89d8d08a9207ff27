"""The one CSV writer of every export: formula-safe cells, one encoding.

Exports are opened in a spreadsheet. A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return before one) is read as a formula there, and a formula can run
commands (``=cmd|' /C calc'!A0``) or send the sheet's data away: such text is written
with a leading apostrophe, which spreadsheets show as text. Numbers stay numbers.

The format: RFC 4180 (comma, double quotes where needed, CRLF line ends), UTF-8 with a
byte-order mark, so that Excel reads names with accents as UTF-8 and not as ANSI. Files
made for Excel on Indonesian Windows (the monthly report) use its regional separators
instead: semicolon between fields, comma before decimals (:data:`INDONESIAN_EXCEL`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flask import Response, stream_with_context
from werkzeug.utils import secure_filename

#: What starts a formula in Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
MIMETYPE = "text/csv"


@dataclass(frozen=True)
class Dialect:
    #: Between fields.
    delimiter: str
    #: Before a number's decimals.
    decimal: str


RFC4180 = Dialect(delimiter=",", decimal=".")
#: What Excel with Indonesian regional settings splits into columns, and reads 2,5 as a number.
INDONESIAN_EXCEL = Dialect(delimiter=";", decimal=",")


def cell(value, decimal: str = ".") -> str:
    """One cell as text, defused if a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value).replace(".", decimal)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def lines(rows: Iterable[Iterable], dialect: Dialect = RFC4180) -> Iterator[str]:
    """The CSV text of ``rows``, one line per row (the first one opens with the byte-order mark)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", delimiter=dialect.delimiter)  # minimal quoting, CRLF
    buffer.write(BOM)
    for row in rows:
        writer.writerow([cell(value, dialect.decimal) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def response(rows: Iterable[Iterable], filename: str, dialect: Dialect = RFC4180) -> Response:
    """A download of ``rows`` streamed row by row (memory stays flat whatever the size)."""
    safe_name = secure_filename(filename) or "export.csv"
    return Response(stream_with_context(lines(rows, dialect)), mimetype=MIMETYPE,
                    headers={"Content-Disposition": f"attachment; filename={safe_name}"})
