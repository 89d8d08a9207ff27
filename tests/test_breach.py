"""The breach report: every resident whose data one account or address read in a window, what was seen,
how often, and a ready-to-send SMS notice each; the terminal shows counts only."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import func, select, update

from fakes.builders import make_case, make_resident
from slrt import audit, audit_search, breach, gsm
from slrt.models import AuditEntry
from slrt.models.enums import AuditAction, AuditActor, PhoneOwner, Role, SmsEncoding
from tests.web import Browser

ADDRESS = "10.20.30.40"
OTHER_ADDRESS = "10.9.9.9"


def _get(browser: Browser, url: str, address: str = ADDRESS):
    response = browser.get(url, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200, url
    response.get_data()
    return response


def _search(browser: Browser, list_url: str, term: str, address: str = ADDRESS):
    """The search box of a list, without opening the list first (that page would show everyone)."""
    response = browser.post(f"{list_url}search/", {"search": term}, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 302
    return _get(browser, response.headers["Location"], address)


def _sign_in(app, username: str, address: str) -> Browser:
    browser = Browser(app)
    browser.get("/login", environ_base={"REMOTE_ADDR": address})
    browser.post("/login", {"username": username, "password": "rahasia-demo-1"}, environ_base={"REMOTE_ADDR": address})
    return browser


@pytest.fixture
def story(app, district, db_session, frozen):
    """A supervisor's three days: before the window it opens Dewi's page; on 25 and 26 November (the window)
    Alice's page, Citra's case page twice, the case list, a case export and a search that finds Budi; a
    back-office clerk opens Dewi's page the same day from elsewhere; after the window the supervisor opens Eko's."""
    alice = make_resident(district, name="Alice Rahayu")
    budi = make_resident(district, name="Budi Santoso", sex="M", phone_owner=PhoneOwner.FAMILY)
    citra_case = make_case(district, make_resident(district, name="Citra Lestari"))
    dewi = make_resident(district, name="Dewi Kusuma")
    eko = make_resident(district, name="Eko Prasetyo", sex="M", phone=None)
    db_session.commit()
    supervisor = district.user(Role.SUPERVISOR)
    clerk = district.user(Role.BACK_OFFICE)

    frozen.move_to("2026-11-24T15:00+07:00")
    browser = _sign_in(app, supervisor.username, ADDRESS)
    _get(browser, f"/admin/resident/details/?id={dewi.id}")

    frozen.move_to("2026-11-25T09:00+07:00")  # the window: 25 and 26 November, local days
    browser = _sign_in(app, supervisor.username, ADDRESS)  # a session lasts a working day
    _get(browser, f"/admin/resident/details/?id={alice.id}")
    _get(browser, f"/admin/case/details/?id={citra_case.id}")
    _get(browser, "/admin/case/")
    frozen.move_to("2026-11-26T16:30+07:00")
    browser = _sign_in(app, supervisor.username, ADDRESS)
    _get(browser, f"/admin/case/details/?id={citra_case.id}")
    _get(browser, "/admin/case/export/csv/")
    _search(browser, "/admin/resident/", "Budi")
    other = _sign_in(app, clerk.username, OTHER_ADDRESS)
    _get(other, f"/admin/resident/details/?id={dewi.id}", OTHER_ADDRESS)

    frozen.move_to("2026-11-27T08:00+07:00")  # after the window
    browser = _sign_in(app, supervisor.username, ADDRESS)
    _get(browser, f"/admin/resident/details/?id={eko.id}")
    return {"alice": alice, "budi": budi, "citra": citra_case.resident, "dewi": dewi, "eko": eko,
            "supervisor": supervisor, "clerk": clerk}


WINDOW = {"since": date(2026, 11, 25), "until": date(2026, 11, 26)}


def _by_resident(made: breach.Report) -> dict[int, breach.Exposure]:
    return {exposure.resident_id: exposure for exposure in made.exposures}


def test_an_accounts_reads_in_the_window_name_exactly_those_residents(story):
    made = breach.report(staff=story["supervisor"], **WINDOW)
    found = _by_resident(made)
    assert set(found) == {story["alice"].id, story["budi"].id, story["citra"].id}
    alice, budi, citra = found[story["alice"].id], found[story["budi"].id], found[story["citra"].id]
    assert dict(alice.actions) == {AuditAction.VIEW: 1} and alice.record_types == {"resident"}
    assert dict(budi.actions) == {AuditAction.SEARCH: 1}
    assert dict(citra.actions) == {AuditAction.VIEW: 2, AuditAction.LIST: 1, AuditAction.EXPORT: 1}
    assert citra.times == 4 and citra.record_types == {"case"}
    assert citra.first_at.date() == date(2026, 11, 25) and citra.last_at.date() == date(2026, 11, 26)
    assert made.residents == 3 and made.by_action[AuditAction.VIEW] == 3
    assert made.residents_by_action()[AuditAction.VIEW] == 2


def test_the_same_reads_are_found_by_address(story):
    made = breach.report(address=ADDRESS, **WINDOW)
    assert set(_by_resident(made)) == {story["alice"].id, story["budi"].id, story["citra"].id}
    assert _by_resident(made)[story["citra"].id].times == 4
    elsewhere = breach.report(address=OTHER_ADDRESS, **WINDOW)
    assert set(_by_resident(elsewhere)) == {story["dewi"].id}


def test_an_address_is_one_spelling_whatever_the_socket_gave(app, story, db_session):
    """A dual-stack server hands an IPv4 client as ::ffff:a.b.c.d: logged as a.b.c.d, found by either
    spelling, and entries written with the mapped spelling are found by the plain one."""
    browser = _sign_in(app, story["clerk"].username, "::FFFF:10.9.9.10")
    _get(browser, f"/admin/resident/details/?id={story['alice'].id}", "::FFFF:10.9.9.10")
    viewed = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert viewed.ip == "10.9.9.10"
    for asked in ("10.9.9.10", " ::ffff:10.9.9.10 "):
        made = breach.report(address=asked, since=date(2026, 11, 27), until=date(2026, 11, 27))
        assert made.address == "10.9.9.10" and set(_by_resident(made)) == {story["alice"].id}
    db_session.execute(update(AuditEntry).where(AuditEntry.id == viewed.id).values(ip="::ffff:10.9.9.10"))
    db_session.commit()  # as a release before this one wrote it (the chain breaks: this is a test database)
    made = breach.report(address="10.9.9.10", since=date(2026, 11, 1), until=date(2026, 11, 30))
    assert set(_by_resident(made)) == {story["alice"].id}


def test_the_window_is_honoured(story):
    before = breach.report(staff=story["supervisor"], since=date(2026, 11, 24), until=date(2026, 11, 24))
    assert set(_by_resident(before)) == {story["dewi"].id}
    after = breach.report(staff=story["supervisor"], since=date(2026, 11, 27), until=date(2026, 12, 31))
    assert set(_by_resident(after)) == {story["eko"].id}
    everything = breach.report(staff=story["supervisor"], since=date(2026, 11, 1), until=date(2026, 11, 30))
    assert set(_by_resident(everything)) == {story[n].id for n in ("alice", "budi", "citra", "dewi", "eko")}


def test_each_resident_gets_a_short_gsm7_notice_with_no_number_and_no_one_elses_name(story):
    made = breach.report(staff=story["supervisor"], **WINDOW)
    names = [story[n].name for n in ("alice", "budi", "citra", "dewi", "eko")]
    for exposure in made.exposures:
        text = exposure.notice
        assert gsm.encoding_of(text) == SmsEncoding.GSM7 and gsm.segments(text)[1] <= 2 == breach.MAX_SEGMENTS
        assert exposure.segments == gsm.segments(text)[1]
        said = text.split("Info:")[0]  # then the office's number to call
        assert not re.search(r"\d{6,}", said) and exposure.resident.nik_masked not in said
        assert "25-26 Nov 2026" in text
        own_first = exposure.resident.name.split()[0]
        assert not [n for n in names if n.split()[0] in text and n.split()[0] != own_first]
    by_id = _by_resident(made)
    own = by_id[story["alice"].id].notice
    assert "Anda" in own and "identitas" in own and "Alice" not in own
    held = by_id[story["budi"].id].notice  # a family member's phone: the first name, nothing of what was seen
    assert "utk Budi" in held and "Santoso" not in held and "identitas" not in held
    assert "NIK lengkap" not in own and gsm.segments(own)[1] == 1 and gsm.segments(held)[1] == 1


def test_a_long_office_name_still_fits_two_parts(app, story):
    app.config["SLRT_SMS_SENDER_NAME"] = "Sekretariat SLRT Dinas Sosial Kabupaten Blora Provinsi Jawa Tengah"
    try:
        made = breach.report(staff=story["supervisor"], since=date(2026, 11, 1), until=date(2026, 12, 31))
    finally:
        app.config["SLRT_SMS_SENDER_NAME"] = "SLRT Blora"
    assert all(gsm.segments(e.notice)[1] <= 2 for e in made.exposures)


def test_the_command_prints_counts_and_writes_names_only_to_the_file(app, story, db_session, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "pelanggaran.csv"
    mark = db_session.scalar(select(func.max(AuditEntry.id)))
    result = runner.invoke(args=["slrt", "breach-report", "--staff", story["supervisor"].username,
                                 "--from", "2026-11-25", "--to", "2026-11-26", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 warga" in result.output
    assert "waktu Asia/Jakarta; sekarang di sana 27-11-2026 08:00" in result.output  # the office's day
    for name in ("alice", "budi", "citra"):
        assert story[name].name not in result.output and story[name].phone not in result.output
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert len(body) == 3
    table = {row[header.index("Nama")]: row for row in body}
    assert set(table) == {"Alice Rahayu", "Budi Santoso", "Citra Lestari"}
    citra = table["Citra Lestari"]
    assert citra[header.index("Telepon")] == "'" + story["citra"].phone  # defused, as in every CSV export
    assert citra[header.index("Berapa kali")] == "4"
    assert out.stat().st_mode & 0o777 == 0o600
    assert "data pribadi Anda" in citra[header.index("Teks SMS pemberitahuan")]
    # The file is a read of those residents' data, by the operator.
    [written] = db_session.scalars(select(AuditEntry).where(AuditEntry.id > mark)).all()
    assert written.action == AuditAction.EXPORT and written.actor_kind == AuditActor.CLI
    assert "laporan kebocoran data" in audit_search.detail_text(written.detail)
    assert sorted(written.resident_ids) == sorted(story[n].id for n in ("alice", "budi", "citra"))


def test_the_command_by_address_and_its_xlsx(app, story, tmp_path):
    out = tmp_path / "pelanggaran.xlsx"
    result = app.test_cli_runner().invoke(args=["slrt", "breach-report", "--address", OTHER_ADDRESS,
                                                "--from", "2026-11-25", "--to", "2026-11-26", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 warga" in result.output and out.stat().st_size > 0
    header, row = openpyxl.load_workbook(out).active.iter_rows(values_only=True)
    assert isinstance(row[0], int) and row[header.index("Berapa kali")] == 1  # numbers, not text
    assert out.stat().st_mode & 0o777 == 0o600  # names and phones: for the operator's eyes only


@pytest.mark.parametrize(("args", "message"), [
    (["--staff", "nobody", "--from", "2026-11-25", "--to", "2026-11-26"], "nobody"),
    (["--from", "2026-11-25", "--to", "2026-11-26"], "--staff"),
    (["--address", "10.0.0.999", "--from", "2026-11-25", "--to", "2026-11-26"], "10.0.0.999"),
    (["--address", ADDRESS, "--from", "2026-11-26", "--to", "2026-11-25"], "Rentang"),
    (["--address", ADDRESS, "--from", "2026-11-25", "--to", "2026-11-26", "--out", "x.pdf"], ".xlsx"),
    (["--address", ADDRESS, "--from", "2026-11-25", "--to", "2026-11-26", "--out", "/nowhere/at/all/x.csv"],
     "/nowhere/at/all"),
    (["--staff", "nobody", "--from", "2026-11-25", "--to", "2026-11-26"], "Tidak ada akun petugas"),
    (["--address", ADDRESS, "--from", "9999-12-31", "--to", "9999-12-31"], "9999-12-31"),
    (["--address", ADDRESS, "--from", "0001-01-01", "--to", "0001-01-02"], "0001-01-01"),
])
def test_bad_requests_get_a_clear_error(app, district, db_session, args, message):
    logged = db_session.scalar(select(func.count()).select_from(AuditEntry))
    result = app.test_cli_runner().invoke(args=["slrt", "breach-report", *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert result.output.startswith("Galat: ")
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == logged  # no export was logged


def test_a_date_that_does_not_parse_is_refused(app, district):
    result = app.test_cli_runner().invoke(args=["slrt", "breach-report", "--staff", "x", "--from", "25-11-2026",
                                                "--to", "2026-11-26"])
    assert result.exit_code == 2 and "--from" in result.output


def test_nothing_read_means_nothing_to_tell(app, district, frozen):
    made = breach.report(staff=district.user(Role.FRONT_OFFICE), since=date(2026, 11, 24),
                         until=date(2026, 11, 24) + timedelta(days=1))
    assert made.residents == 0 and made.exposures == []


def test_a_full_nik_shown_is_said_first(app, district, db_session, frozen):
    resident = make_resident(district, name="Sri Wahyuni")
    supervisor = district.user(Role.SUPERVISOR)
    audit.record(AuditAction.REVEAL_NIK, record=resident, resident_ids=[resident.id], actor=supervisor)
    audit.record_view(resident, actor=supervisor)
    db_session.commit()
    made = breach.report(staff=supervisor, since=date(2026, 11, 24), until=date(2026, 11, 24))
    [exposure] = made.exposures
    assert exposure.times == 2 and "(NIK lengkap, identitas)" in exposure.notice
    assert "24 Nov 2026" in exposure.notice and exposure.reachable
