"""DTSEN-shaped exports for tests and bench/import_residents.py: families of a district's villages,
one row per person as SIKS-NG writes them, with some bad rows of the kinds real exports have.

Every NIK and KK number is valid for its region and birth (issue) date, unique by construction,
and the same on every run for the same arguments.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

#: The headers of a typical export (snake case, as SIKS-NG writes them).
HEADERS = ["id_dtks", "nomor_kk", "nomor_nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
           "hubungan_keluarga", "alamat", "rt", "rw", "kode_desa", "kecamatan", "desakelurahan", "desil",
           "pkh", "bpnt", "pbi_jk", "status_art", "no_hp"]
#: The kinds of bad rows made, one in ``bad_every`` rows, in turn.
BAD_KINDS = ("nik_scientific", "nik_15_digits", "nik_birth_date", "village_outside", "sex_unknown", "desil_11",
             "duplicate_nik", "date_unreadable", "phone_landline", "name_empty")

_FIRST = ["Siti", "Sri", "Dwi", "Eko", "Budi", "Agus", "Tri", "Wahyu", "Nur", "Slamet", "Suparmi", "Sutrisno",
          "Ahmad", "Muhammad", "Rina", "Yuli", "Endang", "Joko", "Sumarni", "Karsini", "Dian", "Fitri"]
_LAST = ["Rahayu", "Lestari", "Wati", "Santoso", "Prasetyo", "Handayani", "Susanti", "Purnomo", "Haryanto",
         "Wulandari", "Setiawan", "Kurniawan", "Saputra", "Maryati", "Ningsih", "Utomo"]


@dataclass(frozen=True)
class Village:
    code: str  # 33.16.01.2001
    name: str
    district: str  # the kecamatan's name


def _code_date(day: date, female: bool) -> str:
    return f"{day.day + (40 if female else 0):02d}{day.month:02d}{day.year % 100:02d}"


def people(villages: list[Village], residents: int, *, households: int | None = None, bad_every: int = 0,
           seed: int = 16, status_of=None, first_person: int = 0) -> Iterator[dict]:
    """``residents`` rows in families of about residents/households members, each a dict by HEADERS.

    With ``bad_every`` > 0, every bad_every-th row is spoilt with the next of BAD_KINDS (its "bad" key
    names how); ``status_of(i)`` may give a person's status word (default "Terkonfirmasi").
    ``first_person`` numbers people (and families) from there: two calls with far apart numbers make
    different people.
    """
    rng = random.Random(seed)
    households = households or max(residents * 3 // 10, 1)
    base = date(1940, 1, 1)
    made, person, bad = 0, first_person, 0
    earlier_niks: list[str] = []
    for family in range(first_person, first_person + households):
        number = family - first_person
        size = residents // households + (1 if number < residents % households else 0)
        village = villages[family % len(villages)]
        prefix = village.code.replace(".", "")[:6]
        issued = date(2010, 1, 1) + timedelta(days=family % 4000)
        kk = f"{prefix}{_code_date(issued, False)}{family // 4000 + 1:04d}"
        desil = rng.randint(1, 10)
        street = f"Dusun {rng.choice(['Krajan', 'Ngelo', 'Sidomulyo', 'Ngampel'])}"
        rt, rw = rng.randint(1, 12), rng.randint(1, 6)
        pkh, bpnt = rng.random() < 0.3, rng.random() < 0.4
        for member in range(size):
            female = (person % 2 == 1)
            born = base + timedelta(days=(person // 2) % 25000)
            nik = f"{prefix}{_code_date(born, female)}{person // 50000 + 1:04d}"
            row = {"id_dtks": f"DTKS{family:09d}", "nomor_kk": kk, "nomor_nik": nik,
                   "nama": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", "tempat_lahir": "Blora",
                   "tanggal_lahir": born.strftime("%d-%m-%Y"), "jenis_kelamin": "P" if female else "L",
                   "hubungan_keluarga": "1" if member == 0 else ("2" if member == 1 else "3"),
                   "alamat": street, "rt": f"{rt:03d}", "rw": f"{rw:03d}", "kode_desa": village.code.replace(".", ""),
                   "kecamatan": village.district, "desakelurahan": village.name, "desil": str(desil),
                   "pkh": "1" if pkh else "2", "bpnt": "1" if bpnt else "2",
                   "pbi_jk": "1" if desil <= 4 else "2",
                   "status_art": status_of(person) if status_of else "Terkonfirmasi",
                   "no_hp": f"0812{person % 100_000_000:08d}" if member == 0 else ""}
            person += 1
            made += 1
            if bad_every and made % bad_every == 0:
                kind = BAD_KINDS[bad % len(BAD_KINDS)]
                bad += 1
                _spoil(row, kind, earlier_niks)
                row["bad"] = kind
            elif len(earlier_niks) < 1000:
                earlier_niks.append(nik)
            yield row


def _spoil(row: dict, kind: str, earlier: list[str]) -> None:
    nik = row["nomor_nik"]
    if kind == "nik_scientific":
        row["nomor_nik"] = f"{int(nik[:6]) / 100000:.5f}E+15"
    elif kind == "nik_15_digits":
        row["nomor_nik"] = nik[:15]
    elif kind == "nik_birth_date":
        day, month, year = row["tanggal_lahir"].split("-")
        row["tanggal_lahir"] = f"{day}-{month}-{int(year) - 1}"
    elif kind == "village_outside":
        row["kode_desa"] = "3201012001"
    elif kind == "sex_unknown":
        row["jenis_kelamin"] = "X"
    elif kind == "desil_11":
        row["desil"] = "11"
    elif kind == "duplicate_nik" and earlier:
        row["nomor_nik"] = earlier[len(earlier) // 2]
        row["tanggal_lahir"], row["jenis_kelamin"] = "", ""
    elif kind == "date_unreadable":
        row["tanggal_lahir"] = "31-02-1980"
    elif kind == "phone_landline":
        row["no_hp"] = "0296531118"
    elif kind == "name_empty":
        row["nama"] = ""


def write_csv(path, rows, headers: list[str] | None = None, delimiter: str = ",") -> int:
    """Write ``rows`` (dicts by HEADERS) under ``headers`` (renamed columns, same order); returns the count."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(headers or HEADERS)
        for row in rows:
            writer.writerow([row.get(key, "") for key in HEADERS])
            count += 1
    return count


def write_xlsx(path, rows, headers: list[str] | None = None, *, numbers: bool = False) -> int:
    """The same as an Excel workbook (streamed); ``numbers`` writes NIK and KK as number cells, as a
    spreadsheet does to a column not formatted as Text."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("DTSEN")
    sheet.write_row(0, 0, headers or HEADERS)
    count = 0
    for count, row in enumerate(rows, start=1):
        for column, key in enumerate(HEADERS):
            value = row.get(key, "")
            if numbers and key in ("nomor_nik", "nomor_kk") and value.isdigit():
                sheet.write_number(count, column, int(value))
            else:
                sheet.write_string(count, column, value)
    workbook.close()
    return count
