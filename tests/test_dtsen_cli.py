"""`flask slrt import-residents`: a DTSEN file imported in this process, with a progress bar, the refused
rows written out, unknown columns explained, and exit codes an operator's script can test."""

from __future__ import annotations

import csv

import openpyxl
import pytest
from sqlalchemy import select

from fakes.dtsen import HEADERS, Village, people, write_csv
from slrt.models import ImportHeader, ResidentImport
from slrt.models.enums import ImportState


@pytest.fixture
def runner(app, db_session):
    return app.test_cli_runner()


def rows_of(district, n, **kwargs) -> list[dict]:
    villages = [Village(code=v.code, name=v.name, district="Jepon") for v in district.villages]
    return list(people(villages, n, **kwargs))


def last_import(db_session) -> ResidentImport:
    db_session.expire_all()
    return db_session.scalar(select(ResidentImport).order_by(ResidentImport.id.desc()))


def test_dry_run_then_import_with_refused_rows_written_out(runner, district, db_session, tmp_path):
    path = tmp_path / "dtsen.csv"
    write_csv(path, rows_of(district, 40, households=12, bad_every=10))
    dry = runner.invoke(args=["slrt", "import-residents", str(path), "--dry-run", "--as-of", "2026-11-20"])
    assert dry.exit_code == 2, dry.output  # rows were refused
    assert "Uji coba: tidak ada yang ditulis." in dry.stdout and "Warga: 36 baru" in dry.stdout
    assert "40/40" in dry.stderr and "4 ditolak" in dry.stderr  # the progress bar, on stderr
    record = last_import(db_session)
    assert record.is_dry_run and record.operator and record.staff_id is None
    assert str(record.as_of) == "2026-11-20"

    errors = tmp_path / "refused.xlsx"
    done = runner.invoke(args=["slrt", "import-residents", str(path), "--errors", str(errors)])
    assert done.exit_code == 2 and "Warga: 36 baru" in done.stdout and str(errors) in done.stdout
    record = last_import(db_session)
    assert (record.state, record.is_dry_run, record.residents_created) == (ImportState.DONE, False, 36)
    assert str(record.as_of) == "2026-11-24"  # today by default (the frozen day)
    sheet = openpyxl.load_workbook(errors, read_only=True).active
    table = list(sheet.iter_rows(values_only=True))
    assert list(table[0][:len(HEADERS)]) == HEADERS and len(table) == 5 and table[1][-1].startswith("baris")

    again = runner.invoke(args=["slrt", "import-residents", str(path), "--errors", str(tmp_path / "again.csv")])
    assert again.exit_code == 2 and "36 tidak berubah" in again.stdout
    with open(tmp_path / "again.csv", encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.reader(handle))) == 5


def test_a_clean_file_exits_0(runner, district, db_session, tmp_path):
    path = tmp_path / "dtsen.csv"
    write_csv(path, rows_of(district, 6, households=2))
    result = runner.invoke(args=["slrt", "import-residents", str(path)])
    assert result.exit_code == 0, result.output
    assert "Warga: 6 baru" in result.stdout


def test_unknown_columns_are_named_with_how_to_map_them(runner, district, db_session, tmp_path):
    headers = ["NIK KTP Warga" if h == "nomor_nik" else "Catatan" if h == "no_hp" else h for h in HEADERS]
    path = tmp_path / "odd.csv"
    write_csv(path, rows_of(district, 4, households=2), headers=headers)
    refused = runner.invoke(args=["slrt", "import-residents", str(path)])
    assert refused.exit_code == 1
    assert "'NIK KTP Warga'" in refused.stderr and "'Catatan'" in refused.stderr
    assert "nik (NIK)" in refused.stderr and "--map 'NIK KTP Warga=nik'" in refused.stderr
    assert last_import(db_session) is None

    done = runner.invoke(args=["slrt", "import-residents", str(path), "--map", "NIK KTP Warga=nik",
                               "--map", "Catatan=", "--save-map"])
    assert done.exit_code == 0, done.output
    assert db_session.get(ImportHeader, "nikktpwarga").field == "nik"
    assert runner.invoke(args=["slrt", "import-residents", str(path)]).exit_code == 0  # remembered


@pytest.mark.parametrize("content, args, said", [
    (b"", [], "kosong"),
    (b"\x00\x01binary\xff" * 100, [], "bukan CSV"),
    (None, ["--map", "NIK=nomor"], "Pemetaan NIK=nomor"),
    (None, ["--map", "no equals sign"], "Judul kolom=isian"),
    (None, ["--as-of", "2999-01-01"], "masa depan"),
])
def test_a_refused_file_exits_1_with_the_reason_on_stderr(runner, district, db_session, tmp_path, content,
                                                          args, said):
    path = tmp_path / "dtsen.csv"
    if content is None:
        write_csv(path, rows_of(district, 2, households=1))
    else:
        path.write_bytes(content)
    result = runner.invoke(args=["slrt", "import-residents", str(path), *args])
    assert result.exit_code == 1 and said in result.stderr, result.output
    assert last_import(db_session) is None


def test_an_import_that_fails_exits_1(runner, db_session, tmp_path, frozen):
    path = tmp_path / "dtsen.csv"
    write_csv(path, [])
    path.write_text(",".join(HEADERS) + "\n" + ",".join("1" for _ in HEADERS) + "\n")
    result = runner.invoke(args=["slrt", "import-residents", str(path)])  # no district set up
    assert result.exit_code == 1 and "setup-district" in result.stderr
    assert last_import(db_session).state == ImportState.FAILED


def test_refused_rows_keep_their_cells_under_the_right_headers_when_a_column_is_left_out(
        runner, district, db_session, tmp_path):
    rows = rows_of(district, 10, households=3, bad_every=5)
    path = tmp_path / "extra.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Catatan petugas", *HEADERS])
        for n, row in enumerate(rows):
            writer.writerow([f"catatan {n}", *(row.get(key, "") for key in HEADERS)])
    out = tmp_path / "refused.csv"
    result = runner.invoke(args=["slrt", "import-residents", str(path), "--errors", str(out)])
    assert result.exit_code == 2 and "'Catatan petugas'" in result.stderr
    with open(out, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["Catatan petugas", *HEADERS, "Galat"]
    bad = [r for r in rows if "bad" in r]
    assert [line[1 + HEADERS.index("nomor_nik")] for line in table[1:]] == [r["nomor_nik"] for r in bad]
