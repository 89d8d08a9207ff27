"""The DTSEN import screens: upload, columns, the run's page following the worker, refused rows to
download, "import this file now" after a dry run, the list of imports per unit, and no 500 for odd input.

The worker's task runs in this process here (tests/test_dtsen_worker.py runs a real worker)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

import admin_views.dtsen_import as screen
from fakes.dtsen import HEADERS, Village, people, write_csv, write_xlsx
from slrt import dtsen_import, dtsen_uploads
from slrt.extensions import db
from slrt.models import AuditEntry, ImportHeader, Resident, ResidentImport
from slrt.models.enums import AuditAction, ImportState, Role
from tests.test_admin_matrix import signed_in
from tests.web import Browser

URL = "/admin/dtsen-import/"


@pytest.fixture
def queued(app, monkeypatch, tmp_path):
    """The imports queued by the screen (id, path); uploads in a folder of this test."""
    monkeypatch.setitem(app.config, "SLRT_IMPORT_DIR", str(tmp_path / "uploads"))
    calls: list[tuple[int, str]] = []
    monkeypatch.setattr(screen, "queue_import", lambda import_id, path: calls.append((import_id, str(path))))
    return calls


def run_queued(app, calls) -> None:
    """What the worker does with each queued import (the real task, in this process)."""
    task = app.extensions["celery"].tasks["slrt.import_residents"]
    while calls:
        task.apply(args=list(calls.pop(0)))


def rows_of(district, n, **kwargs) -> list[dict]:
    villages = [Village(code=v.code, name=v.name, district="Jepon") for v in district.villages]
    return list(people(villages, n, **kwargs))


def csv_bytes(rows, headers=None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers or HEADERS)
    for row in rows:
        writer.writerow([row.get(key, "") for key in HEADERS])
    return out.getvalue().encode()


def upload(browser, data: bytes, name="dtsen.csv", mode="dry_run", as_of="2026-11-20"):
    browser.get(URL)
    return browser.post(f"{URL}upload", {"file": (io.BytesIO(data), name), "mode": mode, "as_of": as_of},
                        content_type="multipart/form-data")


def ticket(html: str) -> str:
    return re.search(r'name="ticket" value="([^"]+)"', html).group(1)


def start(browser, page, **choices):
    html = page.get_data(as_text=True)
    return browser.post(f"{URL}start", {"ticket": ticket(html), **choices})


def text(response) -> str:
    return response.get_data(as_text=True)


def uploads(app) -> list[Path]:
    folder = Path(app.config["SLRT_IMPORT_DIR"])
    return sorted(folder.iterdir()) if folder.exists() else []


def test_dry_run_then_import_this_file_now(app, district, db_session, queued):
    rows = rows_of(district, 30, households=10, bad_every=10)
    browser = signed_in(app, district, Role.SUPERVISOR)
    page = upload(browser, csv_bytes(rows), name="DTSEN Jepon Siti.csv")
    html = text(page)
    assert page.status_code == 200 and "nomor_nik" in html and "Nomor KK" in html  # recognized, in words
    # stored under a random name: never the user's file name
    (stored,) = uploads(app)
    assert re.fullmatch(r"u-[0-9a-f]{32}", stored.name)
    started = start(browser, page)
    assert started.status_code == 302
    (import_id, path), = queued
    record = db_session.get(ResidentImport, import_id)
    assert record.is_dry_run and record.state == ImportState.QUEUED and record.filename == "DTSEN Jepon Siti.csv"
    waiting = browser.get(f"{URL}{import_id}/")
    assert '<meta http-equiv="refresh" content="2">' in text(waiting) and "<progress" in text(waiting)
    assert "menunggu" in text(waiting).lower()

    run_queued(app, queued)
    done = text(browser.get(f"{URL}{import_id}/"))
    assert 'http-equiv="refresh"' not in done
    assert "tidak ada yang ditulis" in done.lower()
    bad = [r for r in rows if "bad" in r]
    assert f"<td>{30 - len(bad)}</td>" in done and f"<td>{len(bad)}</td>" in done
    # refused rows listed, NIKs masked: no full NIK of the file on the page
    assert "dtsen-refused" in done
    assert not any(r["nomor_nik"] in done for r in rows if len(r["nomor_nik"]) == 16)
    assert Path(path).exists()  # kept for the real import
    assert db_session.scalar(select(Resident).where(Resident.dtsen_as_of.is_not(None))) is None

    now = browser.post(f"{URL}{import_id}/import-now", {})
    assert now.status_code == 302
    (real_id, real_path), = queued
    assert real_id != import_id and not db_session.get(ResidentImport, real_id).is_dry_run
    run_queued(app, queued)
    db_session.expire_all()
    real = db_session.get(ResidentImport, real_id)
    assert (real.state, real.residents_created, real.rows_refused) == (ImportState.DONE, 30 - len(bad), len(bad))
    assert not Path(real_path).exists() and uploads(app) == []  # deleted once imported
    # the dry run's button is gone: its file was imported
    assert "import-now" not in text(browser.get(f"{URL}{import_id}/"))
    listing = text(browser.get(URL))
    assert f"#{real_id}" in listing and f"#{import_id}" in listing and record.sha256[:12] in listing


def test_refused_rows_download_masked_for_whoever_sees_the_import(app, district, db_session, queued):
    rows = rows_of(district, 20, households=10, bad_every=5)
    browser = signed_in(app, district, Role.FACILITATOR, district.puskesos[0])
    start(browser, upload(browser, csv_bytes(rows), mode="import"))
    (import_id, _path), = queued
    run_queued(app, queued)
    record = db_session.get(ResidentImport, import_id)
    assert record.unit_id == district.puskesos[0].id and record.rows_refused > 4  # other village refused too
    mark = db_session.scalar(select(func.max(AuditEntry.id)))
    page = text(browser.get(f"{URL}{import_id}/"))
    assert "refused.xlsx" in page and "refused.csv" in page
    # the page lists the first refused rows (names, masked NIKs): one list entry, by the facilitator
    [listed] = db_session.scalars(select(AuditEntry).where(AuditEntry.id > mark)).all()
    assert (listed.action, listed.record_type, listed.detail["import_id"]) == (AuditAction.LIST, None, import_id)
    assert listed.actor_label == district.user(Role.FACILITATOR, district.puskesos[0]).username
    assert listed.rows == min(record.rows_refused, screen.SHOWN_REFUSED)

    got = browser.get(f"{URL}{import_id}/refused.csv")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    body = list(csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    assert body[0][:len(HEADERS)] == HEADERS and len(body) == record.rows_refused + 1
    refused_niks = {line[HEADERS.index("nomor_nik")] for line in body[1:]}
    assert not re.search(r"\d{16}", got.get_data(as_text=True))  # NIK and KK masked (tests/test_reveal.py)
    assert any(len(nik) == 16 and "********" in nik for nik in refused_niks)
    book = browser.get(f"{URL}{import_id}/refused.xlsx")
    assert book.status_code == 200 and "attachment" in book.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(book.data), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == record.rows_refused + 1 and values[1][-1].startswith("baris")
    assert all(isinstance(v[HEADERS.index("nomor_nik")], str) for v in values[1:])  # text, never a number

    # the other Puskesos sees neither the import nor its rows; the secretariat sees both
    other = signed_in(app, district, Role.FACILITATOR, district.puskesos[1])
    assert f"#{import_id}" not in text(other.get(URL))
    for url in (f"{URL}{import_id}/", f"{URL}{import_id}/refused.csv", f"{URL}{import_id}/refused.xlsx"):
        assert other.get(url).status_code == 404
    boss = signed_in(app, district, Role.MANAGER)
    assert f"#{import_id}" in text(boss.get(URL))
    assert boss.get(f"{URL}{import_id}/refused.csv").status_code == 200
    # a manager who says why gets the original NIKs, to fix and import again
    assert f"{import_id}/refused-full/" in text(boss.get(f"{URL}{import_id}/"))
    boss.get(f"{URL}{import_id}/refused-full/")
    full = boss.post(f"{URL}{import_id}/refused-full/", {"reason": "operator desa memperbaiki NIK", "format": "csv"})
    body = list(csv.reader(io.StringIO(full.get_data(as_text=True).lstrip("\ufeff"))))
    assert any(len(line[HEADERS.index("nomor_nik")]) == 16 and line[HEADERS.index("nomor_nik")].isdigit()
               for line in body[1:])
    assert browser.get(f"{URL}{import_id}/refused-full/").status_code == 403  # the facilitator may not


def test_unknown_columns_are_mapped_on_screen_and_remembered(app, district, db_session, queued):
    headers = ["NIK KTP Warga" if h == "nomor_nik" else "Catatan" if h == "no_hp" else h for h in HEADERS]
    data = csv_bytes(rows_of(district, 4, households=2), headers)
    browser = signed_in(app, district, Role.MANAGER)
    page = upload(browser, data)
    html = text(page)
    nik_at, note_at = headers.index("NIK KTP Warga"), headers.index("Catatan")
    assert f'name="col-{nik_at}"' in html and f'name="col-{note_at}"' in html
    assert "NIK" in html[html.find("Wajib"):] and 'name="remember"' in html
    # started without choosing: refused with the fields missing, nothing recorded
    again = start(browser, page)
    assert again.status_code == 200 and "NIK" in text(again) and not queued
    started = start(browser, page, **{f"col-{nik_at}": "nik", f"col-{note_at}": "", "remember": "1"})
    assert started.status_code == 302 and len(queued) == 1
    run_queued(app, queued)
    assert db_session.get(ImportHeader, "nikktpwarga").field == "nik"
    assert db_session.get(ImportHeader, "catatan").field == ""
    # next time the columns are known
    assert 'name="col-' not in text(upload(browser, data))


def test_a_puskesos_user_may_not_remember_a_mapping_for_everyone(app, district, db_session, queued):
    headers = ["NIK KTP Warga" if h == "nomor_nik" else h for h in HEADERS]
    browser = signed_in(app, district, Role.FACILITATOR, district.puskesos[0])
    page = upload(browser, csv_bytes(rows_of(district, 2, households=1), headers))
    assert 'name="remember"' not in text(page)
    start(browser, page, **{f"col-{headers.index('NIK KTP Warga')}": "nik", "remember": "1"})
    assert len(queued) == 1 and db_session.get(ImportHeader, "nikktpwarga") is None


def test_xlsx_upload(app, district, db_session, queued, tmp_path):
    write_xlsx(tmp_path / "dtsen.xlsx", rows_of(district, 6, households=2))
    browser = signed_in(app, district, Role.BACK_OFFICE)
    page = upload(browser, (tmp_path / "dtsen.xlsx").read_bytes(), name="dtsen.xlsx", mode="import")
    assert start(browser, page).status_code == 302
    run_queued(app, queued)
    record = db_session.scalar(select(ResidentImport).order_by(ResidentImport.id.desc()))
    assert (record.state, record.residents_created) == (ImportState.DONE, 6)


@pytest.mark.parametrize("data, said", [
    (b"", "kosong"),
    (b"\x00\x01\x02binary\xff" * 200, "bukan CSV"),
    ("zip", "Excel"),
    (b"nama;alamat\nSiti;Jl. Mawar\n", "NIK"),
])
def test_files_that_cannot_be_imported_are_said_and_not_kept(app, district, db_session, queued, data, said):
    if data == "zip":  # a zip archive, as an .xlsx is, holding no workbook
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w") as archive:
            archive.writestr("catatan.txt", "bukan buku kerja")
        data = packed.getvalue()
    browser = signed_in(app, district, Role.SUPERVISOR)
    page = upload(browser, data, name="dtsen.xlsx")
    assert page.status_code == 200 and said in text(page)
    if said == "NIK":  # the columns step names what is missing; starting is refused
        assert start(browser, page).status_code == 200
        assert len(uploads(app)) == 1 and not queued
    else:
        assert uploads(app) == []
    assert db_session.scalar(select(ResidentImport)) is None


def test_a_file_over_the_cap_is_refused_in_indonesian(app, district, db_session, queued, monkeypatch):
    monkeypatch.setitem(app.config, "SLRT_IMPORT_MAX_MB", 1)
    browser = signed_in(app, district, Role.SUPERVISOR)
    for size in (1024 * 1024 + 10, 1024 * 1024 + 200_000):  # just over (streamed copy stops), well over
        page = upload(browser, b"nik,kk\n" + b"1" * size)
        assert page.status_code == 200 and "terlalu besar" in text(page) and "1 MB" in text(page)
    assert uploads(app) == []


def test_odd_requests_answer_no_500(app, district, db_session, queued):
    browser = signed_in(app, district, Role.SUPERVISOR)
    for url in (f"{URL}0/", f"{URL}99999999999/", f"{URL}99999999999999999999999/", f"{URL}abc/",
                f"{URL}1/refused.csv", f"{URL}1/refused.pdf", f"{URL}?page=0", f"{URL}?page=99999999999999",
                f"{URL}?page=abc"):
        assert browser.get(url).status_code in (200, 404), url
    assert browser.get(f"{URL}upload").status_code == 405
    assert browser.post(f"{URL}upload", {}).status_code == 200  # no file: said
    assert "Pilih berkas" in text(browser.post(f"{URL}upload", {}))
    for forged in ("", "x", "a" * 5000, "eyJmaWxlIjoiMDAifQ.abc.def"):
        answer = browser.post(f"{URL}start", {"ticket": forged})
        assert answer.status_code == 200 and "unggah" in text(answer).lower()
    assert browser.post(f"{URL}99999999999/import-now", {}).status_code == 404
    for as_of in ("", "31-02-2026", "2999-01-01", "x" * 300):
        page = upload(browser, b"a,b\n1,2\n", as_of=as_of)
        assert page.status_code == 200 and "error" in text(page)
    assert uploads(app) == []


def test_a_ticket_is_for_its_own_uploader_and_a_file_starts_once(app, district, db_session, queued):
    data = csv_bytes(rows_of(district, 2, households=1))
    mine = signed_in(app, district, Role.SUPERVISOR)
    page = upload(mine, data)
    theirs = signed_in(app, district, Role.BACK_OFFICE)
    theirs.get(URL)
    assert "unggah" in text(theirs.post(f"{URL}start", {"ticket": ticket(text(page))})).lower()
    assert start(mine, page).status_code == 302
    assert "unggah" in text(start(mine, page)).lower()  # the same form sent again
    assert len(queued) == 1


def test_import_now_only_after_a_finished_dry_run_whose_file_is_kept(app, district, db_session, queued):
    browser = signed_in(app, district, Role.SUPERVISOR)
    start(browser, upload(browser, csv_bytes(rows_of(district, 2, households=1)), mode="import"))
    (import_id, _path), = queued
    run_queued(app, queued)
    answer = browser.post(f"{URL}{import_id}/import-now", {})
    assert answer.status_code == 200 and "unggah" in text(answer).lower() and not queued
    start(browser, upload(browser, csv_bytes(rows_of(district, 2, households=1))))
    (dry_id, path), = queued
    run_queued(app, queued)
    Path(path).unlink()
    assert "unggah" in text(browser.post(f"{URL}{dry_id}/import-now", {})).lower() and not queued


def test_the_screen_is_for_the_import_roles_only(app, district, db_session, queued):
    front = signed_in(app, district, Role.FRONT_OFFICE)
    assert front.get(URL).status_code == 403
    assert front.post(f"{URL}upload", {}).status_code == 403
    assert Browser(app).get(URL).status_code == 302
    for role in (Role.FACILITATOR, Role.BACK_OFFICE, Role.SUPERVISOR):
        menu = text(signed_in(app, district, role).get("/admin/"))
        assert "dtsen-import" in menu


def test_the_task_deletes_only_uploads_and_keeps_a_dry_runs_file(app, district, db_session, queued, tmp_path):
    elsewhere = tmp_path / "dtsen.csv"
    write_csv(elsewhere, rows_of(district, 3, households=1))
    record = dtsen_import.start(elsewhere, filename="dtsen.csv", actor=district.user(Role.SUPERVISOR),
                                as_of=dtsen_import.clock.today(), dry_run=False)
    db_session.commit()
    task = app.extensions["celery"].tasks["slrt.import_residents"]
    assert task.apply(args=[record.id, str(elsewhere)]).get() == "done"
    assert elsewhere.exists()  # not in the upload folder: never deleted
    assert task.apply(args=[10**9, str(elsewhere)]).get() is None and elsewhere.exists()
    with open(elsewhere, "rb") as handle:
        kept = dtsen_uploads.save(handle)
    dry = dtsen_import.start(kept, filename="dtsen.csv", actor=district.user(Role.SUPERVISOR),
                             as_of=dtsen_import.clock.today(), dry_run=True)
    db_session.commit()
    kept = dtsen_uploads.claim(kept, dry.id)
    assert task.apply(args=[dry.id, str(kept)]).get() == "done" and kept.exists()
    assert dtsen_uploads.of_import(dry.id) == kept
    assert not dtsen_uploads.remove(elsewhere) and dtsen_uploads.remove(kept) and not kept.exists()


def test_stale_uploads_are_removed_after_a_day(app, queued, tmp_path):
    import os
    import time

    with app.app_context():
        old = dtsen_uploads.save(io.BytesIO(b"a,b\n"))
        fresh = dtsen_uploads.save(io.BytesIO(b"a,b\n"))
        other = Path(app.config["SLRT_IMPORT_DIR"]) / "keep-me.txt"
        other.write_text("not an upload")
        day_ago = time.time() - 25 * 3600
        os.utime(old, (day_ago, day_ago))
        os.utime(other, (day_ago, day_ago))
        assert dtsen_uploads.remove_stale() == 1
        assert not old.exists() and fresh.exists() and other.exists()


def test_masked_messages_hide_long_numbers():
    assert dtsen_uploads.masked_message("NIK rusak (3316012001000120)") == "NIK rusak (3316********0120)"
    assert dtsen_uploads.masked_message("Baris 12: desil 11") == "Baris 12: desil 11"


def test_the_uploaded_files_folder_holds_nothing_of_the_users_name(app, district, db_session, queued):
    browser = signed_in(app, district, Role.SUPERVISOR)
    upload(browser, csv_bytes(rows_of(district, 2, households=1)), name="../../etc/Data Siti Rahayu.csv")
    assert all("Siti" not in p.name and re.fullmatch(r"u-[0-9a-f]{32}", p.name) for p in uploads(app))
    assert db.session is not None


def test_a_broker_that_does_not_answer_is_said_not_a_500(app, district, db_session, queued, monkeypatch):
    def down(import_id, path):
        raise ConnectionError("broker down")

    monkeypatch.setattr(screen, "queue_import", down)
    browser = signed_in(app, district, Role.SUPERVISOR)
    started = start(browser, upload(browser, csv_bytes(rows_of(district, 2, households=1))))
    assert started.status_code == 302
    page = text(browser.get(started.headers["Location"]))
    assert "operator TI" in page and db_session.scalar(select(ResidentImport)).state == ImportState.QUEUED
