"""Excel workbooks (XLSX) for reports: numbers as number cells, a bold frozen header, fitted columns.

A workbook carries no regional separators, so it opens alike in Indonesian and English Excel,
LibreOffice and Google Sheets. Text is always written as text (never read as a formula),
numbers as numbers, a float with one decimal; an empty cell stays empty.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import xlsxwriter
from flask import Response
from werkzeug.utils import secure_filename

MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Column widths in characters: fitted to the longest value, within these bounds.
MIN_WIDTH, MAX_WIDTH = 6, 60


@dataclass
class Sheet:
    #: At most 31 characters, none of ``[]:*?/\\`` (Excel's rules for a sheet's name).
    title: str
    #: The first row is the header (bold, frozen, with filter buttons).
    rows: Sequence[Sequence]


def workbook(sheets: Iterable[Sheet]) -> bytes:
    """The XLSX file of ``sheets``."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    one_decimal = book.add_format({"num_format": "0.0"})
    for sheet in sheets:
        page = book.add_worksheet(sheet.title[:31])
        widths: dict[int, int] = {}
        for r, row in enumerate(sheet.rows):
            for c, value in enumerate(row):
                if r == 0:
                    page.write_string(r, c, str(value), bold)
                    widths[c] = max(widths.get(c, 0), min(len(str(value)), 24))  # a long header wraps
                    continue
                if value is None or value == "":
                    continue
                if isinstance(value, bool):
                    page.write_boolean(r, c, value)
                elif isinstance(value, int):
                    page.write_number(r, c, value)
                elif isinstance(value, float):
                    page.write_number(r, c, value, one_decimal)
                else:
                    page.write_string(r, c, str(value))
                widths[c] = max(widths.get(c, 0), len(str(value)))
        for c, width in widths.items():
            page.set_column(c, c, max(MIN_WIDTH, min(width + 2, MAX_WIDTH)))
        if sheet.rows:
            page.freeze_panes(1, 0)
            page.autofilter(0, 0, max(len(sheet.rows) - 1, 0), max(len(sheet.rows[0]) - 1, 0))
    book.close()
    return buffer.getvalue()


def response(sheets: Iterable[Sheet], filename: str) -> Response:
    """A download of the workbook of ``sheets``."""
    safe_name = secure_filename(filename) or "export.xlsx"
    return Response(workbook(sheets), mimetype=MIMETYPE,
                    headers={"Content-Disposition": f"attachment; filename={safe_name}"})


def write_rows(path, title: str, header: Sequence, rows: Iterable[Sequence]) -> None:
    """One sheet of any size written to ``path`` a row at a time (constant memory): a bold frozen header,
    whole numbers given as ``int`` as numbers (counts, ids), every other cell as text (identifiers such as
    a NIK, given as text, stay exact), columns of a fixed readable width."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                           "strings_to_formulas": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    page = book.add_worksheet(title[:31])
    page.set_column(0, max(len(header) - 1, 0), 18)
    page.freeze_panes(1, 0)
    for c, value in enumerate(header):
        page.write_string(0, c, str(value), bold)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, int) and not isinstance(value, bool):
                page.write_number(r, c, value)
            elif value is not None and value != "":
                page.write_string(r, c, str(value))
    book.close()
