"""Residents and households from DTSEN exports (slrt.dtsen_import): columns, values, identifiers,
dry run, idempotence, updates, moves, duplicates, deceased residents and a Puskesos's scope."""

from __future__ import annotations

import contextlib
import csv
import os
import pickle
from datetime import date

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from fakes.builders import make_district, make_nik
from fakes.dtsen import HEADERS, Village, people, write_csv, write_xlsx
from fakes.pipeline import postgres_database
from slrt import dtsen_import
from slrt.access import SYSTEM_ACTOR
from slrt.dtsen_import import identifier, parse_date, parse_flag, parse_relation, parse_sex, parse_status, recognize
from slrt.extensions import db
from slrt.models import DtsenChange, Household, Resident, ResidentImport, ResidentNameWord
from slrt.models.enums import DtsenStatus, ImportState, Role, Sex
from slrt.models.people import name_words
from slrt.pii import new_key
from slrt.residents import find_by_nik

AS_OF = date(2026, 9, 30)


def villages_of(district) -> list[Village]:
    return [Village(code=v.code, name=v.name, district="Jepon") for v in district.villages]


def counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count()).select_from(Resident)),
            db.session.scalar(select(func.count()).select_from(Household)),
            db.session.scalar(select(func.count()).select_from(ResidentNameWord)))


def run_file(path, actor=SYSTEM_ACTOR, *, dry_run=False, as_of=AS_OF, mapping=None) -> ResidentImport:
    return dtsen_import.import_file(path, filename=path.name, actor=actor, as_of=as_of, dry_run=dry_run,
                                    mapping=mapping)


def rows_of(district, n, **kwargs) -> list[dict]:
    return list(people(villages_of(district), n, **kwargs))


# --- Columns and values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("header, key", [
    ("id_dtks", "dtks_id"), ("ID DTKS", "dtks_id"), ("nomor_nik", "nik"), ("NIK", "nik"), ("nomor_kk", "kk"),
    ("No KK", "kk"), ("NOKK", "kk"), ("No. KK", "kk"), ("nama", "name"), ("NAMA", "name"), ("nama_art", "name"),
    ("tanggal_lahir", "birth_date"), ("TGL LAHIR", "birth_date"), ("tempat_lahir", "birth_place"),
    ("jenis_kelamin", "sex"), ("JK", "sex"), ("gender", "sex"), ("hubungan_keluarga", "relation"),
    ("hub_kel", "relation"), ("alamat", "address"), ("dusun", "dusun"), ("RT", "rt"), ("rw", "rw"),
    ("kode_desa", "village_code"), ("desakelurahan", "village_name"), ("Desa/Kelurahan", "village_name"),
    ("kelurahan", "village_name"), ("kecamatan", "district_name"), ("DESIL", "desil"), ("PKH", "pkh"),
    ("BPNT", "bpnt"), ("PBI-JK", "pbi_jk"), ("kd_pkh", "pkh"), ("status", "status"), ("status_art", "status"),
    ("  Nomor  NIK ", "nik"),
])
def test_headers_are_recognized_in_any_case_and_spacing(app, db_session, header, key):
    columns = recognize(["x", header], saved={})
    assert columns.found == {key: 1}
    assert columns.unknown == ["x"]


@pytest.mark.parametrize("value, sex", [("L", Sex.MALE), ("P", Sex.FEMALE), ("1", Sex.MALE), ("2", Sex.FEMALE),
                                        ("Laki-laki", Sex.MALE), ("PEREMPUAN", Sex.FEMALE), (1.0, Sex.MALE)])
def test_sex_codes(value, sex):
    assert parse_sex(value) == sex


@pytest.mark.parametrize("value, code", [("1", 1), ("8", 8), ("Kepala Keluarga", 1), ("istri", 2), ("Anak", 3),
                                         ("Famili Lain", 8), (3.0, 3), ("", None)])
def test_relation_codes(value, code):
    assert parse_relation(value) == code


@pytest.mark.parametrize("value, flag", [("1", True), ("2", False), ("Ya", True), ("Tidak", False), ("Y", True),
                                         ("N", False), ("", False), (1.0, True), ("0", False)])
def test_programme_flags(value, flag):
    assert parse_flag(value, "pkh") is flag


@pytest.mark.parametrize("value, status", [("Terkonfirmasi", DtsenStatus.CONFIRMED),
                                           ("Tidak Terkonfirmasi", DtsenStatus.UNCONFIRMED),
                                           ("GANDA", DtsenStatus.DUPLICATE), ("Meninggal", DtsenStatus.DECEASED),
                                           ("meninggal dunia", DtsenStatus.DECEASED), ("Pindah", DtsenStatus.MOVED),
                                           ("", DtsenStatus.CONFIRMED)])
def test_status_words(value, status):
    assert parse_status(value) == status


@pytest.mark.parametrize("value", ["17-05-1980", "17/05/1980", "1980-05-17", 29358, "29358", "29358.0",
                                   date(1980, 5, 17)])
def test_date_forms(value):
    assert parse_date(value) == date(1980, 5, 17)


def test_identifiers_stay_text_and_excel_damage_is_refused(app):
    nik = make_nik("M", date(1980, 5, 17))  # ends in 1: exact as a float
    with app.app_context():
        assert identifier(nik, "nik") == nik
        assert identifier(f"{nik}.0", "nik") == nik
        assert identifier(float(nik), "nik") == nik
        for broken in ("3.31601E+15", nik[:15], float(nik[:15] + "0"), 9.1e15, "9101014505800001.0"):
            with pytest.raises(dtsen_import._RowRefused) as refused:
                identifier(broken, "nik")
            assert "Excel" in str(refused.value)


# --- Importing -----------------------------------------------------------------------------------------


def test_dry_run_counts_and_writes_nothing_then_the_import_writes_and_reimport_changes_nothing(
        app, db_session, district, tmp_path):
    path = tmp_path / "dtsen.csv"
    rows = rows_of(district, 40, households=12)
    write_csv(path, rows)
    before = counts()
    dry = run_file(path, dry_run=True)
    assert (dry.state, dry.residents_created, dry.households_created, dry.rows_refused) == (ImportState.DONE, 40,
                                                                                            12, 0)
    assert counts() == before
    done = run_file(path)
    assert (done.residents_created, done.households_created, done.rows_refused) == (40, 12, 0)
    assert counts()[:2] == (before[0] + 40, before[1] + 12)
    for row in rows:  # the identifiers decrypt to what the file said (they are encrypted a batch at a time)
        resident = find_by_nik(row["nomor_nik"])
        assert (resident.nik, resident.household.kk_number) == (row["nomor_nik"], row["nomor_kk"])
    again = run_file(path)
    assert (again.residents_created, again.residents_updated, again.residents_unchanged) == (0, 0, 40)
    assert (again.households_created, again.households_updated, again.households_unchanged) == (0, 0, 12)
    assert db.session.scalar(select(func.count()).select_from(DtsenChange)) == 0


def test_a_newer_export_updates_desil_programmes_status_address_and_membership(app, db_session, district, tmp_path):
    rows = rows_of(district, 6, households=2)
    write_csv(tmp_path / "q3.csv", rows)
    run_file(tmp_path / "q3.csv")
    rows[0]["desil"], rows[0]["pkh"] = "1", "1"
    rows[1]["status_art"] = "Meninggal"
    rows[2]["nomor_kk"] = rows[3]["nomor_kk"]  # joins the other family
    rows[4]["nama"] = "Slamet Haryanto"  # a corrected name
    write_csv(tmp_path / "q4.csv", rows)
    newer = run_file(tmp_path / "q4.csv", as_of=date(2026, 11, 20))
    assert newer.residents_updated == 4
    first = find_by_nik(rows[0]["nomor_nik"])
    assert first.household.desil == 1 and "pkh" in first.dtsen_programmes.split()
    assert first.household.dtsen_as_of == date(2026, 11, 20) == first.dtsen_as_of
    assert find_by_nik(rows[1]["nomor_nik"]).dtsen_status == DtsenStatus.DECEASED
    assert find_by_nik(rows[2]["nomor_nik"]).household == find_by_nik(rows[3]["nomor_nik"]).household
    changes = db.session.scalars(select(DtsenChange).where(DtsenChange.import_id == newer.id)).all()
    assert any(c.changes.get("dtsen_status") == ["confirmed", "deceased"] for c in changes)
    # The search's words are the names' words exactly (no database key keeps them: the import does).
    words = db.session.execute(select(ResidentNameWord.resident_id, ResidentNameWord.word)).all()
    everyone = db.session.scalars(select(Resident)).all()
    assert sorted(words) == sorted((r.id, word) for r in everyone for word in name_words(r.name))
    assert find_by_nik(rows[4]["nomor_nik"]).name == "Slamet Haryanto"


def test_bad_rows_are_refused_with_row_and_column_and_good_rows_kept(app, db_session, district, tmp_path):
    rows = rows_of(district, 50, bad_every=5)
    path = tmp_path / "bad.csv"
    write_csv(path, rows)
    result = run_file(path)
    bad = [r for r in rows if "bad" in r]
    assert result.rows_refused == len(bad) == 10
    assert result.residents_created == 40
    header, body = dtsen_import.refused_rows(result)
    body = list(body)
    assert header[-1] in ("Galat", "Error") and len(body) == 10
    assert any("Excel" in line[-1] for line in body)
    assert all(line[-1].startswith(("baris", "row")) for line in body)
    assert [line[HEADERS.index("nomor_nik")] for line in body] == [r["nomor_nik"] for r in bad]


def test_a_puskesos_imports_only_its_villages(app, db_session, district, tmp_path):
    path = tmp_path / "all.csv"
    write_csv(path, rows_of(district, 20, households=10))
    facilitator = district.user(Role.FACILITATOR, district.puskesos[0])
    result = run_file(path, facilitator)
    assert result.residents_created == 10 and result.rows_refused == 10
    header, body = dtsen_import.refused_rows(result)
    assert all("unit" in line[-1] or "Puskesos" in line[-1] for line in body)


def test_xlsx_with_numbers_for_identifiers(app, db_session, district, tmp_path):
    rows = rows_of(district, 10, households=3)
    path = tmp_path / "dtsen.xlsx"
    write_xlsx(path, rows, numbers=True)
    result = run_file(path)
    ending_zero = [r for r in rows if r["nomor_nik"].endswith("0") or r["nomor_kk"].endswith("0")]
    assert result.residents_created == 10 - len(ending_zero)
    assert result.rows_refused == len(ending_zero)


def test_unknown_columns_are_mapped_and_the_mapping_is_kept(app, db_session, district, tmp_path):
    path = tmp_path / "odd.csv"
    headers = [h if h != "nomor_nik" else "NIK KTP Warga" for h in HEADERS]
    write_csv(path, rows_of(district, 4, households=2), headers=headers)
    with pytest.raises(dtsen_import.ImportRefused):
        run_file(path)
    mapping = dtsen_import.parse_mapping(["NIK KTP Warga=nik"])
    assert run_file(path, mapping=mapping).residents_created == 4
    dtsen_import.save_headers(mapping, SYSTEM_ACTOR)
    assert recognize(headers).found["nik"] == headers.index("NIK KTP Warga")


def test_a_nul_character_deep_in_the_file_stops_the_import_at_its_row(app, db_session, district, tmp_path):
    path = tmp_path / "damaged.csv"
    write_csv(path, rows_of(district, 700, households=200))
    lines = path.read_bytes().split(b"\n")
    lines[650] = lines[650].replace(b",", b",\x00", 1)  # past the 64 KB the format is guessed from
    path.write_bytes(b"\n".join(lines))
    result = run_file(path)
    assert result.state == ImportState.FAILED
    assert "651" in result.failure


def test_semicolon_csv_from_excel_in_windows_1252(app, db_session, district, tmp_path):
    rows = rows_of(district, 3, households=1)
    rows[0]["nama"] = "Siti Hénny Ma'ruf"
    path = tmp_path / "excel.csv"
    with open(path, "w", newline="", encoding="cp1252") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow([row[k] for k in HEADERS])
    result = run_file(path)
    assert result.residents_created == 3, list(dtsen_import.refused_rows(result)[1])


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_blank_lines_before_the_header_do_not_hide_the_delimiter(app, db_session, district, tmp_path, delimiter):
    rows = rows_of(district, 3, households=1)
    path = tmp_path / "leading.csv"
    write_csv(path, rows, delimiter=delimiter)
    path.write_bytes(b"\r\n\r\n" + path.read_bytes())  # as some tools export: a title row left empty
    result = run_file(path)
    assert (result.state, result.residents_created) == (ImportState.DONE, 3), result.failure


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_the_progress_bar_counts_the_data_rows_of_a_csv(tmp_path, ending):
    """The run page says "0 of N rows" before the worker starts: N is the data rows, not the header too."""
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(["nik,nama", "1,A", "2,B", "3,C"]) + ending, encoding="utf-8")
    assert dtsen_import.open_table(path).total == 3


def test_checking_in_several_processes_gives_the_same_result_as_one(app, db_session, district, tmp_path,
                                                                    monkeypatch):
    rows = rows_of(district, 5000, households=1500, bad_every=37)
    path = tmp_path / "long.csv"
    write_csv(path, rows)
    one = run_file(path, dry_run=True)
    monkeypatch.setitem(app.config, "SLRT_IMPORT_PROCESSES", 2)
    monkeypatch.setattr(dtsen_import, "BATCH_ROWS", 400)  # a dozen batches, in file order
    several = run_file(path)
    assert several.state == ImportState.DONE
    figures = ("rows_done", "residents_created", "rows_refused", "households_created")
    assert [getattr(several, f) for f in figures] == [getattr(one, f) for f in figures]
    assert several.rows_refused == sum(1 for r in rows if "bad" in r)
    _header, body = dtsen_import.refused_rows(several)
    assert [line[HEADERS.index("nomor_nik")] for line in body] == [r["nomor_nik"] for r in rows if "bad" in r]
    for row in [r for r in rows if "bad" not in r][::500]:  # rows that came back from the checking processes
        resident = find_by_nik(row["nomor_nik"])
        assert (resident.nik, resident.name, resident.household.kk_number) == (
            row["nomor_nik"], " ".join(row["nama"].split()), row["nomor_kk"])


def test_a_csv_checked_as_text_in_several_processes_numbers_and_keeps_its_rows_as_one_reader_does(
        app, db_session, district, tmp_path, monkeypatch):
    """Batches go to the checking processes as text: quoted values over several lines, quotes inside values,
    blank lines and Windows line ends must give the same rows, numbers and refused cells as one reader."""
    rows = rows_of(district, 1200, households=400, bad_every=29)
    for row in rows[5::97]:
        row["alamat"] = 'Jl. "Mawar", Gg. 3\nbelakang masjid'  # quoted, two lines, quotes inside
    first, again = (next(i for i in range(at, 1200) if "bad" not in rows[i]) for at in (100, 700))
    rows[again] = {**rows[first], "nama": "Budi Dua Kali"}  # a NIK met twice: refused by the importer
    path = tmp_path / "text.csv"
    write_csv(path, rows)
    lines = path.read_bytes().split(b"\r\n")
    lines[300] = lines[300] + b"\r\n"  # a blank line after row 301
    lines[450] = lines[450].replace(b"Sri", b'Sr"i', 1)  # a quote inside an unquoted value
    path.write_bytes(b"\r\n".join(lines))
    one = run_file(path, dry_run=True)
    monkeypatch.setitem(app.config, "SLRT_IMPORT_PROCESSES", 2)
    monkeypatch.setattr(dtsen_import, "BATCH_ROWS", 97)
    several = run_file(path)
    assert several.state == ImportState.DONE, several.failure
    figures = ("rows_done", "residents_created", "rows_refused", "households_created")
    assert [getattr(several, f) for f in figures] == [getattr(one, f) for f in figures]
    assert several.rows_done == 1200
    assert list(dtsen_import.refused_rows(several)[1]) == list(dtsen_import.refused_rows(one)[1])
    _header, body = dtsen_import.refused_rows(several)
    twice = [line for line in body if line[HEADERS.index("nomor_nik")] == rows[first]["nomor_nik"]]
    assert len(twice) == 1 and twice[0][HEADERS.index("nama")] == "Budi Dua Kali"
    number = again + 3  # the header, the blank line
    assert twice[0][-1].startswith((f"row {number}", f"baris {number}")), twice[0][-1]
    moved = find_by_nik(rows[5]["nomor_nik"])
    assert moved is not None and "Mawar" in moved.address


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n", b"\r"])
def test_a_nik_met_twice_in_a_batch_without_quotes_is_refused_with_its_own_row_and_cells(
        app, db_session, district, tmp_path, monkeypatch, line_end):
    """A batch without a quote is one row a line: the importer reads only the line of a row it refuses."""
    rows = rows_of(district, 600, households=200)
    good = [i for i, row in enumerate(rows) if "bad" not in row]
    for n, (first, again) in enumerate([(good[10], good[150]), (good[20], good[151]), (good[300], good[480])]):
        rows[again] = {**rows[first], "nama": f"Kembar Ke {n}"}
    path = tmp_path / "twice.csv"
    write_csv(path, rows)
    lines = path.read_bytes().split(b"\r\n")
    lines[200] = lines[200] + b"\r\n"  # a blank line inside a batch, before the third duplicate
    path.write_bytes(b"\r\n".join(lines).replace(b"\r\n", line_end))
    assert b'"' not in path.read_bytes()
    one = run_file(path, dry_run=True)
    monkeypatch.setitem(app.config, "SLRT_IMPORT_PROCESSES", 2)
    monkeypatch.setattr(dtsen_import, "BATCH_ROWS", 100)
    several = run_file(path)
    assert several.state == ImportState.DONE, several.failure
    assert list(dtsen_import.refused_rows(several)[1]) == list(dtsen_import.refused_rows(one)[1])
    _header, body = dtsen_import.refused_rows(several)
    twins = {line[HEADERS.index("nama")]: line[-1] for line in body if line[HEADERS.index("nama")].startswith("Kembar")}
    numbers = [again + 2 + (again >= 200) for _first, again in [(0, good[150]), (0, good[151]), (0, good[480])]]
    assert sorted(twins) == ["Kembar Ke 0", "Kembar Ke 1", "Kembar Ke 2"]
    for n, number in enumerate(numbers):
        assert twins[f"Kembar Ke {n}"].startswith((f"row {number}", f"baris {number}")), twins


def test_a_file_without_any_programme_column_is_imported_with_no_programme_flagged(app, db_session, district,
                                                                                   tmp_path):
    rows = rows_of(district, 20, households=6)
    headers = [h for h in HEADERS if h not in ("pkh", "bpnt", "pbi_jk")]
    path = tmp_path / "no_programmes.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows([row.get(h, "") for h in headers] for row in rows)
    result = run_file(path)
    assert result.state == ImportState.DONE, result.failure
    assert result.residents_created == 20 - sum("bad" in row for row in rows)
    assert db_session.scalars(select(Resident.dtsen_programmes).distinct()).all() == [""]


def test_remembered_cells_of_a_workbook_tell_true_from_1_and_false_from_0(app, db_session, district):
    """A workbook's cells are typed: the checker's memos must not take False for 0 (RT "002" against "000")
    nor True for 1 (a KK cell), as a dict's keys do."""
    def parser():
        return dtsen_import.Parser(recognize(list(HEADERS)), dtsen_import.district_villages(SYSTEM_ACTOR),
                                   date(2026, 12, 1))

    rows = [[row.get(h, "") for h in HEADERS] for row in rows_of(district, 4, households=4)]
    rt, kk = HEADERS.index("rt"), HEADERS.index("nomor_kk")
    for column in ("alamat", "rw"):  # the same address but for the RT's cell
        rows[1][HEADERS.index(column)] = rows[0][HEADERS.index(column)]
    rows[0][rt], rows[1][rt], rows[2][kk], rows[3][kk] = 0, False, 1, True
    remembering = parser()
    parsed, refused = remembering.parse_batch(list(enumerate(rows, start=2)))
    alone = [parser().parse_batch([(n, cells)]) for n, cells in enumerate(rows, start=2)]
    assert [row.address for row in parsed] == [a[0][0].address for a in alone[:2]]
    assert "RT 002" in parsed[1].address and "RT 000" in parsed[0].address
    assert [message for *_r, message in refused] == [a[1][0][3] for a in alone[2:]]


def test_a_csv_damaged_deep_in_a_batch_sent_as_text_fails_the_run_with_the_reason(app, db_session, district,
                                                                                 tmp_path, monkeypatch):
    rows = rows_of(district, 900, households=300)
    rows[700]["nama"] = "A" * 200_000  # past the CSV reader's limit of a value
    path = tmp_path / "huge.csv"
    write_csv(path, rows)
    monkeypatch.setitem(app.config, "SLRT_IMPORT_PROCESSES", 2)
    monkeypatch.setattr(dtsen_import, "BATCH_ROWS", 100)
    result = run_file(path)
    assert result.state == ImportState.FAILED
    assert "CSV" in result.failure and ("rusak" in result.failure or "damaged" in result.failure)
    assert counts()[0] == result.rows_done <= 700


def test_a_row_is_refused_for_its_first_bad_field_and_a_remembered_code_refuses_every_row_with_it(
        app, db_session, district, tmp_path):
    rows = rows_of(district, 8, households=3)
    for row in rows[:3]:
        row["hubungan_keluarga"] = "tetangga"  # an unknown relation, three times: remembered after the first
    rows[1]["tanggal_lahir"] = "31-02-1980"  # before the relation in the fields' order
    rows[2]["jenis_kelamin"] = "X"  # sex comes before the birth date and the relation
    rows[3]["desil"], rows[3]["pkh"] = "11", "mungkin"  # desil before the programmes
    rows[4]["pkh"] = "mungkin"
    path = tmp_path / "codes.csv"
    write_csv(path, rows)
    result = run_file(path)
    _header, body = dtsen_import.refused_rows(result)
    errors = [line[-1] for line in body]
    assert result.rows_refused == 5 and result.residents_created == 3
    assert "hubungan_keluarga" in errors[0] and "tetangga" in errors[0]
    assert "tanggal_lahir" in errors[1] and "31-02-1980" in errors[1]
    assert "jenis_kelamin" in errors[2]
    assert "desil" in errors[3] and "11" in errors[3]
    assert "pkh" in errors[4] and "mungkin" in errors[4]


def test_a_checked_row_travels_between_processes_whole_but_for_its_cells():
    row = dtsen_import._Row(7, ["cells"], nik="3316011708450001", nik_hash="a" * 64, kk="3316012001000123",
                            kk_hash="b" * 64, name="Siti", sex=Sex.FEMALE, birth_date=date(1945, 8, 17),
                            birth_place="Blora", relation=2, address="Jl. Mawar 3", village_id=5, desil=3,
                            programmes="pkh blt", status=DtsenStatus.DECEASED, phone="+6281234567890", dtks_id="x1")
    back = pickle.loads(pickle.dumps(row))
    assert back.cells is None
    back.cells = row.cells
    assert back == row and (back.sex, back.status) == (Sex.FEMALE, DtsenStatus.DECEASED)


@pytest.fixture
def own_database(tmp_path):
    """An app on a database of its own, migrated, with a district: sessions bound to the engine, as in a
    worker (on PostgreSQL the importer then writes each batch on a connection of its own while it matches
    the next). A SQLite file when TEST_DATABASE_URL is not set."""
    server = os.environ.get("TEST_DATABASE_URL")
    settings = {"TESTING": True, "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
                "SECRET_KEY": "test-secret", "SLRT_PII_KEY": new_key(), "SLRT_PASSWORD_HASH": "plaintext",
                "SLRT_SMS_DISPATCH": False}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_database(server)) if server else f"sqlite:///{tmp_path / 'own.sqlite'}"
        app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            district = make_district()
            db.session.commit()
            villages = villages_of(district)
            db.session.remove()
        yield app, villages
        with app.app_context():
            db.engine.dispose()


def test_batches_written_while_the_next_is_matched_give_what_one_at_a_time_gives(own_database, frozen, tmp_path,
                                                                                  monkeypatch):
    app, villages = own_database
    monkeypatch.setattr(dtsen_import, "BATCH_ROWS", 300)  # families cut by the batches' ends, a dozen batches
    rows = list(people(villages, 3500, households=1000, bad_every=31))
    path = tmp_path / "dtsen.csv"
    write_csv(path, rows)
    sent, send = [], dtsen_import._Pipeline.send

    def counted(pipeline, figures):
        sent.append(figures["rows_done"])
        return send(pipeline, figures)

    monkeypatch.setattr(dtsen_import._Pipeline, "send", counted)
    seen = []
    with app.app_context():
        first = dtsen_import.import_file(path, filename="dtsen.csv", actor=SYSTEM_ACTOR, as_of=AS_OF,
                                         progress=lambda record: seen.append((record.rows_done, record.rows_refused)))
        assert first.state == ImportState.DONE, first.failure
        assert sent == ([*range(300, 3500, 300), 3500] if db.engine.dialect.name == "postgresql" else [])
        good = [r for r in rows if "bad" not in r]
        families = {r["nomor_kk"] for r in good}
        assert (first.rows_done, first.rows_refused) == (3500, 3500 - len(good))
        assert (first.residents_created, first.households_created) == (len(good), len(families))
        assert [done for done, _refused in seen] == [*range(300, 3500, 300), 3500, 3500]  # each batch, then the end
        assert seen == sorted(seen) and seen[-1] == (3500, 3500 - len(good))
        assert counts()[:2] == (len(good), len(families))
        for row in good[::97]:  # households found in the batch before, whether or not it was committed yet
            resident = find_by_nik(row["nomor_nik"])
            assert (resident.name, resident.household.kk_number) == (" ".join(row["nama"].split()), row["nomor_kk"])
        members = db.session.execute(select(Household.id, func.count(Resident.id)).join(Household.members)
                                     .group_by(Household.id)).all()
        assert len(members) == len(families) and sum(n for _id, n in members) == len(good)
        _header, body = dtsen_import.refused_rows(first)
        assert [line[HEADERS.index("nomor_nik")] for line in body] == [r["nomor_nik"] for r in rows if "bad" in r]
        again = dtsen_import.import_file(path, filename="dtsen.csv", actor=SYSTEM_ACTOR, as_of=AS_OF)
        assert (again.residents_unchanged, again.residents_created, again.residents_updated) == (len(good), 0, 0)
        assert (again.households_unchanged, again.households_created) == (len(families), 0)
        db.session.remove()


def test_a_batch_that_fails_to_be_written_fails_the_run_and_the_batches_before_stay(own_database, frozen, tmp_path,
                                                                                     monkeypatch):
    app, villages = own_database
    monkeypatch.setattr(dtsen_import, "BATCH_ROWS", 300)
    path = tmp_path / "dtsen.csv"
    write_csv(path, people(villages, 1500, households=450))
    residents_written = []

    def failing(write):
        def written(connection, table, *args, **kwargs):
            if table.name == "resident":
                residents_written.append(table)
                if len(residents_written) == 3:
                    raise RuntimeError("the disk is full")
            return write(connection, table, *args, **kwargs)
        return written

    with monkeypatch.context() as patched, app.app_context():
        patched.setattr(dtsen_import, "_insert", failing(dtsen_import._insert))  # here (SQLite)
        patched.setattr(dtsen_import, "_copy", failing(dtsen_import._copy))  # on the writer's connection (PostgreSQL)
        record = dtsen_import.import_file(path, filename="dtsen.csv", actor=SYSTEM_ACTOR, as_of=AS_OF)
        assert record.state == ImportState.FAILED and record.failure
        assert counts()[0] == record.rows_done == 600  # the two batches before, and the record says so
        db.session.remove()
    with app.app_context():
        again = dtsen_import.import_file(path, filename="dtsen.csv", actor=SYSTEM_ACTOR, as_of=AS_OF)
        assert again.state == ImportState.DONE, again.failure
        assert (again.residents_created, again.residents_unchanged) == (900, 600)
        db.session.remove()


def test_a_file_damaged_past_the_batches_written_fails_the_run_after_the_batch_in_flight(own_database, frozen,
                                                                                        tmp_path, monkeypatch):
    app, villages = own_database
    monkeypatch.setattr(dtsen_import, "BATCH_ROWS", 300)
    path = tmp_path / "damaged.csv"
    write_csv(path, people(villages, 1500, households=450))
    lines = path.read_bytes().split(b"\n")
    lines[1000] = lines[1000].replace(b",", b",\x00", 1)  # row 1001: in the fourth batch
    path.write_bytes(b"\n".join(lines))
    with app.app_context():
        record = dtsen_import.import_file(path, filename="damaged.csv", actor=SYSTEM_ACTOR, as_of=AS_OF)
        assert record.state == ImportState.FAILED and "1001" in record.failure
        assert counts()[0] == record.rows_done == 900  # the three batches read before, each whole
        db.session.remove()
