"""Going live: README's "Going live" commands, run as written on an empty database, give a district
whose screens work for every role, with no demo data (on SQLite, and on PostgreSQL under
TEST_DATABASE_URL).

The commands run as separate processes, as an operator types them; the spreadsheets are the
set-up templates' headers with a real Blora district's rows. Every account then signs in
through the real forms: the one-time password, the password change, the manager's
authenticator set-up, and every screen its menu offers.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
import sys
from datetime import date
from html import unescape
from pathlib import Path

import pytest
import xlsxwriter
from passlib.totp import TOTP
from sqlalchemy import func, select

from app import create_app
from fakes.builders import make_nik
from slrt import setup_import
from slrt.codes import format_code
from slrt.extensions import db
from slrt.models import Agency, AgencyContact, Case, Region, Resident, Service, Staff, Unit
from slrt.models.enums import RegionLevel, Role, UnitKind
from slrt.pii import new_key
from tests.web import Browser

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

#: What the district's office writes into each template (real Blora villages).
ROWS = {
    "units": [
        ["Puskesos Desa Kepoh", "33.16.01.2003", "33.16.01.2009; 33.16.01.2004", "Balai Desa Kepoh, Jati",
         "0812-2555-0188"],
        ["Puskesos Kelurahan Jepon", "Jepon", "", "Kantor Kelurahan Jepon", ""],
    ],
    "agencies": [
        ["RSUD dr. R. Soetijono Blora", "RSUD Blora", "Rumah sakit", "Kabupaten/kota", "Jl. Dr. Sutomo No. 42, Blora",
         "(0296) 531118", "", "", ""],
        ["BPJS Kesehatan Cabang Blora", "BPJS Blora", "BPJS Kesehatan", "Kabupaten/kota", "Jl. Pemuda No. 40, Blora",
         "", "", "", ""],
    ],
    "contacts": [
        ["RSUD Blora", "Sri Suryani", "0857-2555-0306", "Ya", "Tidak"],
        ["BPJS Blora", "Arif Setyawan", "0812-2555-0305", "Ya", "Ya"],
    ],
    "services": [
        ["BPJS_PBI_AKTIVASI", "Aktivasi BPJS Kesehatan PBI (KIS)", "Aktivasi KIS PBI", "Kesehatan", "10",
         "SKTM; FC_KK; FC_KTP; FC_AKTA; MAP", "BPJS Blora", "3", "2", "3"],
        ["RS_KERINGANAN", "Keringanan biaya rumah sakit (dana kemitraan RSUD)", "Keringanan biaya RS", "Kesehatan",
         "3", "SKTM; FC_KK; FC_KTP; SURAT_RS; MAP", "RSUD Blora", "1", "1", "3"],
    ],
    "staff": [
        ["endah", "Endah Purwaningsih", "Supervisor", "33.16", "0813-2555-0402"],
        ["rina", "Rina Kusumawati", "Back office", "Sekretariat SLRT Kabupaten Blora", ""],
        ["ratna", "Ratna Wulandari", "Front office", "33.16", ""],
        ["agus", "Agus Prasetyo", "Fasilitator", "33.16.01.2003", "0813-2555-0407"],
        ["dwi", "Dwi Lestari", "Front office", "Puskesos Kelurahan Jepon", ""],
    ],
}
#: The file name README gives each kind.
FILES = {"unit-puskesos.xlsx": "units", "lembaga.xlsx": "agencies", "kontak-lembaga.xlsx": "contacts",
         "layanan.xlsx": "services", "petugas.xlsx": "staff"}
#: Who each account is, in the order they sign in (the facilitator opens a case the back office then sees).
ROLES = {"kepala.slrt": Role.MANAGER, "agus": Role.FACILITATOR, "rina": Role.BACK_OFFICE, "endah": Role.SUPERVISOR,
         "ratna": Role.FRONT_OFFICE, "dwi": Role.FRONT_OFFICE}


def going_live_commands() -> list[list[str]]:
    """The commands of README's "Going live" section, split as a shell would."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Going live\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.splitlines() if line.strip() and not line.startswith("#")]


def _workbook(kind: str) -> bytes:
    """The template's headers (as the screen's XLSX has them) and the district's rows."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet()
    for r, row in enumerate([setup_import.template_rows(kind)[0], *ROWS[kind]]):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    workbook.close()
    return buffer.getvalue()


def _menu_links(html: str) -> list[str]:
    """The screens the page's menu leads to (the navigation bar's links inside the admin)."""
    nav = html.split('class="navbar', 1)[1].split("</nav>", 1)[0]
    links = {unescape(href) for href in re.findall(r'href="(/admin/[^"#]*)"', nav)}
    return sorted(link for link in links if "logout" not in link)


def _sign_in_first_time(app, username: str, one_time: str) -> Browser:
    """One-time password, own password, and for a manager the authenticator app: then the dashboard."""
    browser = Browser(app)
    browser.get("/login")
    response = browser.post("/login", {"username": username, "password": one_time})
    assert response.status_code == 302, (username, response.get_data(as_text=True)[:500])
    own = f"{username}-pilihan-2026"
    if response.headers["Location"].endswith("/tf-setup"):  # a manager: the authenticator app first
        html = browser.get("/tf-setup").get_data(as_text=True)
        key = unescape(re.search(r'<code class="tf-key">([^<]+)</code>', html).group(1)).replace(" ", "")
        response = browser.post("/tf-validate", {"code": TOTP(key=key.replace("-", ""), format="base32")
                                                 .generate().token})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    page = browser.get("/admin/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/change")  # own password first
    browser.get("/change")
    changed = browser.post("/change", {"password": one_time, "new_password": own, "new_password_confirm": own})
    assert changed.status_code == 302, changed.get_data(as_text=True)[:1000]
    return browser


#: A woman born 9 March 1975 in Kecamatan Jati, registered by the facilitator; a man nobody registers.
NIK = make_nik("F", birth=date(1975, 3, 9), region="331601")
OTHER_NIK = make_nik("M", birth=date(1980, 5, 17), region="331608")


def _intake_villages(browser: Browser, nik: str) -> list[str]:
    """The villages the intake's second step offers for a resident not registered yet."""
    browser.get("/admin/intake/")
    html = browser.post("/admin/intake/", {"step": "find", "nik": nik}).get_data(as_text=True)
    select_html = html.split('name="village_id"', 1)[1].split("</select>", 1)[0]
    return re.findall(r"<option [^>]*>([^<]+)</option>", select_html)


def intake_form(ids: dict[str, int]) -> dict:
    """The intake's form for Sumarni of Doplang at the Kepoh post, needing BPJS PBI (``ids``: kepoh, doplang, pbi)."""
    return {
        "nik": NIK, "name": "Sumarni", "sex": "F", "birth_date": "1975-03-09", "village_id": ids["doplang"],
        "address": "Dk. Krajan RT 03 RW 02", "phone": "0813-2555-0177", "phone_owner": "own",
        "unit_id": ids["kepoh"], "channel": "puskesos", "urgency": "normal",
        "summary": "Belum punya KIS, suami sakit paru-paru.", "needs": [str(ids["pbi"])]}


def _open_case(browser: Browser, ids: dict[str, int]) -> str:
    """Register a resident of Doplang at the Kepoh post and open her case; return its page's address."""
    response = browser.post("/admin/intake/", intake_form(ids))
    assert response.status_code == 302 and "/admin/case/details/" in response.headers["Location"], \
        response.get_data(as_text=True)[:2000]
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sumarni" in page and "Puskesos Desa Kepoh" in page
    return response.headers["Location"]


def test_the_going_live_commands_give_a_working_district_for_every_role(empty_database, tmp_path):
    pii_key = new_key()
    env = {**os.environ, "DATABASE_URL": empty_database, "SLRT_PII_KEY": pii_key, "SLRT_SECRET_KEY": "going-live",
           "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("TEST_DATABASE_URL", None)
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "SLRT_PII_KEY": pii_key, "SECRET_KEY": "going-live",
                      "CELERY_BROKER_URL": env["CELERY_BROKER_URL"], "SLRT_SMS_DISPATCH": "off"})
    with app.app_context():
        for name, kind in FILES.items():
            (tmp_path / name).write_bytes(_workbook(kind))

    commands = going_live_commands()
    assert [c[:4] for c in commands][:3] == [[".venv/bin/flask", "--app", "app", "db"],
                                             [".venv/bin/flask", "--app", "app", "slrt"],
                                             [".venv/bin/flask", "--app", "app", "slrt"]]
    outputs: list[str] = []
    for command in commands:
        assert command[0] == ".venv/bin/flask"
        argv = [str(Path(sys.executable).with_name("flask")), *[
            str(tmp_path / arg) if arg in FILES else arg for arg in command[1:]]]
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        outputs.append(done.stdout)
        if "--dry-run" in command:  # said what it would do, wrote nothing
            assert "akan dibuat 2" in done.stdout
            with app.app_context():
                assert not db.session.scalar(select(func.count()).select_from(Unit).where(
                    Unit.kind == UnitKind.PUSKESOS))
    printed = "\n".join(outputs)
    assert "Kabupaten Blora" in printed and "16" in printed and "295" in printed
    passwords = dict(re.findall(r"^(\w[\w.]*)\t(\S+)$", printed, flags=re.M))
    passwords["kepala.slrt"] = re.search(r"one-time password[^:]*: (\S+)", printed).group(1)
    assert set(passwords) == set(ROLES)

    with app.app_context():
        session = db.session
        assert session.scalar(select(func.count()).select_from(Region).where(Region.level == RegionLevel.VILLAGE)) \
            == 295
        assert session.scalar(select(func.count()).select_from(Resident)) == 0
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        kepoh = session.scalar(select(Unit).where(Unit.name == "Puskesos Desa Kepoh"))
        assert (kepoh.region.code, sorted(v.name for v in kepoh.villages)) == ("33.16.01.2003", ["Doplang", "Pelem"])
        assert kepoh.parent.name == "Sekretariat SLRT Kabupaten Blora"
        assert kepoh.parent.phone == "(0296) 531234"
        assert session.scalar(select(func.count()).select_from(Agency)) == 2
        assert session.scalar(select(func.count()).select_from(AgencyContact)) == 2
        pbi = session.scalar(select(Service).where(Service.code == "BPJS_PBI_AKTIVASI"))
        assert pbi.default_agency.short_name == "BPJS Blora"
        assert session.scalar(select(func.count()).select_from(Service)) == 11  # the default catalogue
        staff = {s.username: s for s in session.scalars(select(Staff))}
        assert {name: Role(s.role) for name, s in staff.items()} == ROLES
        assert all(s.is_password_temporary for s in staff.values())
        assert staff["agus"].unit is kepoh
        ids = {"kepoh": kepoh.id, "doplang": session.scalar(select(Region.id).where(Region.code == "33.16.01.2009")),
               "pbi": pbi.id}
        session.remove()

    for username, role in ROLES.items():
        browser = _sign_in_first_time(app, username, passwords[username])
        home = browser.get("/admin/")
        html = home.get_data(as_text=True)
        assert home.status_code == 200, (username, html[:500])
        links = _menu_links(html)
        assert len(links) >= 3, (username, links)
        for link in links:
            page = browser.get(link)
            assert page.status_code == 200, (username, link, page.status_code)
            assert "Traceback" not in page.get_data(as_text=True)
        if role == Role.MANAGER:
            assert any("/admin/unit" in link for link in links) and any("setup-import" in link for link in links)
        villages = _intake_villages(browser, NIK if username == "agus" else OTHER_NIK)
        if username == "agus":  # the post's villages, and only them, at intake; a case opened there
            assert sorted(villages) == ["Doplang", "Kepoh", "Pelem"]
            opened = _open_case(browser, ids)
        elif username in ("ratna", "endah"):  # the secretariat's counter: the whole regency
            assert len(villages) == 295
        if username == "rina":  # the back office follows the posts' cases
            with app.app_context():
                code = format_code(db.session.scalar(select(Case.ticket)))
                db.session.remove()
            assert code in browser.get("/admin/case/").get_data(as_text=True)
            case_page = browser.get(opened)
            assert case_page.status_code == 200 and "Sumarni" in case_page.get_data(as_text=True)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
