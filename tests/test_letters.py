"""Referral letters: numbered per unit and year on first print, the same on reprint, never shared;
the letter page shows the unit's letterhead, the resident (full NIK only to staff who may read it),
the documents and a QR code that holds the referral's address and nothing personal."""

from __future__ import annotations

import os
import re
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import segno
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from fakes.builders import make_case, make_district, make_referral, make_resident
from fakes.pipeline import postgres_database
from slrt import letters, referrals
from slrt.access import SYSTEM_ACTOR, may_reveal_nik
from slrt.errors import IllegalTransition, PermissionDenied
from slrt.extensions import begin_write, db
from slrt.models import Referral, ReferralLetter, Staff
from slrt.models.enums import Role
from slrt.pii import new_key
from tests.test_admin_matrix import signed_in
from tests.web import Browser

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_letter_numbers_run_per_unit(district, db_session):
    jepon = [make_referral(district) for _ in range(3)]
    at_secretariat = make_referral(district, make_case(district, unit=district.secretariat))
    back = district.user(Role.BACK_OFFICE)
    issued = [letters.issue_letter(r, actor=back) for r in [*jepon, at_secretariat]]
    assert [letter.reference for letter in issued] == [
        "0001/SLRT/XI/2026", "0002/SLRT/XI/2026", "0003/SLRT/XI/2026", "0001/SLRT/XI/2026"]
    assert [letter.unit_id for letter in issued] == [district.puskesos[0].id] * 3 + [district.secretariat.id]
    assert issued[0].issued_by_id == back.id


def test_a_reprint_keeps_the_number(district, db_session):
    referral, other = make_referral(district), make_referral(district)
    first = letters.issue_letter(referral, actor=district.user(Role.BACK_OFFICE))
    db_session.commit()
    again = letters.issue_letter(referral, actor=district.user(Role.SUPERVISOR))
    assert again.id == first.id and again.reference == "0001/SLRT/XI/2026"
    assert letters.issue_letter(other, actor=SYSTEM_ACTOR).reference == "0002/SLRT/XI/2026"
    assert db_session.scalar(select(func.count()).select_from(ReferralLetter)) == 2


def test_the_sequence_starts_again_in_january_of_the_local_year(district, db_session, frozen):
    back = district.user(Role.BACK_OFFICE)
    frozen.move_to(datetime(2026, 12, 31, 20, 0, tzinfo=JAKARTA))
    december = [letters.issue_letter(make_referral(district), actor=back) for _ in range(2)]
    # 00:30 on New Year's Day in Blora is still 31 December in UTC: the local year counts.
    frozen.move_to(datetime(2027, 1, 1, 0, 30, tzinfo=JAKARTA))
    january = letters.issue_letter(make_referral(district), actor=back)
    assert [letter.reference for letter in december] == ["0001/SLRT/XII/2026", "0002/SLRT/XII/2026"]
    assert (january.year, january.number, january.reference) == (2027, 1, "0001/SLRT/I/2027")
    # A December referral printed again in January keeps its December number.
    assert letters.issue_letter(december[0].referral, actor=back).reference == "0001/SLRT/XII/2026"


def test_staff_of_another_unit_and_agencies_cannot_print_it(district, db_session):
    referral = make_referral(district)  # a case of Puskesos Jepon
    with pytest.raises(PermissionDenied):
        letters.issue_letter(referral, actor=district.user(Role.SUPERVISOR, district.puskesos[1]))
    with pytest.raises(PermissionDenied):
        letters.issue_letter(referral, actor=district.agencies["bpjs"].contacts[0])
    assert letters.letter_of(referral) is None


def test_a_rejected_or_cancelled_referral_gets_no_new_number(district, db_session):
    back = district.user(Role.BACK_OFFICE)
    printed, unprinted = make_referral(district), make_referral(district)
    letters.issue_letter(printed, actor=back)
    for referral in (printed, unprinted):
        referrals.cancel_referral(referral, actor=back, reason="warga pindah")
    assert letters.issue_letter(printed, actor=back).reference == "0001/SLRT/XI/2026"  # a reprint
    with pytest.raises(IllegalTransition, match="dibatalkan"):
        letters.issue_letter(unprinted, actor=back)
    assert letters.letter_of(unprinted) is None
    assert letters.issue_letter(make_referral(district), actor=back).number == 2  # no number was used up


def test_full_nik_only_for_staff_who_serve_the_residents_village(district, db_session):
    resident = make_resident(district)  # lives in Jepon
    facilitator = district.user(Role.FACILITATOR, district.puskesos[0])
    assert may_reveal_nik(facilitator, facilitator, resident)
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])  # finds people by the KTP in hand
    assert not may_reveal_nik(clerk, clerk, resident)
    assert may_reveal_nik(district.user(Role.BACK_OFFICE), district.user(Role.BACK_OFFICE), resident)
    palon = district.user(Role.SUPERVISOR, district.puskesos[1])
    assert not may_reveal_nik(palon, palon, resident)
    assert not may_reveal_nik(district.agencies["bpjs"].contacts[0], palon, resident)


# --------------------------------------------------------------------------- the page


def _qr_path(url: str) -> str:
    """The drawing of ``url``'s QR code as the letter renders it."""
    svg = segno.make(url, error="m").svg_inline(scale=0.75, unit="mm", border=2)
    return re.search(r' d="([^"]+)"', svg).group(1)


def test_the_letter_page(app, district, db_session):
    referral = make_referral(district, documents_checked=["sktm", "kk"])
    db_session.commit()
    resident = referral.case.resident
    back = Browser(app)
    back.login(district.user(Role.BACK_OFFICE).username)
    response = back.get(f"/admin/referral/letter/?id={referral.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Surat rujukan 0001/SLRT/XI/2026</title>" in page
    # Letterhead: the case's unit under its secretariat, with address and phone.
    assert "SEKRETARIAT SLRT BLORA" in page and "PUSKESOS JEPON" in page
    assert "<strong class=\"reference\">0001/SLRT/XI/2026</strong>" in page
    assert "Jepon, 24 November 2026" in page
    assert "BPJS Kesehatan Cabang Blora" in page and "Jl. Pemuda 21 Blora" in page
    assert resident.name in page and resident.nik in page and "RT 02 RW 01" in page
    assert "Kartu KIS tidak aktif saat berobat" in page
    rows = re.findall(r'<tr class="(have|missing)"><td>\d+</td><td><span class="clamp">([^<]+)</span></td>', page)
    assert rows == [("have", "Surat Keterangan Tidak Mampu"), ("have", "Fotokopi Kartu Keluarga"),
                    ("missing", "Fotokopi KTP/KIA"), ("missing", "Map plastik")]
    assert "2 berkas" in page and "Kepala Puskesos Jepon" in page and "Tanda tangan dan stempel" in page
    # The QR code holds the referral's page, by id: no name, no NIK.
    target = f"http://localhost/admin/referral/details/?id={referral.id}"
    assert _qr_path(target) in page
    assert re.findall(r"<title>([^<]*)</title>", page.split("<svg", 1)[1])[0] == target
    # The slip links here and back; the case page and the referral's page link both prints.
    assert f"/admin/referral/slip/?id={referral.id}" in page
    case_page = back.get(f"/admin/case/details/?id={referral.case_id}").get_data(as_text=True)
    details = back.get(f"/admin/referral/details/?id={referral.id}").get_data(as_text=True)
    for html in (case_page, details):
        assert f"/admin/referral/letter/?id={referral.id}" in html and f"/admin/referral/slip/?id={referral.id}" in html

    # Printed again (by someone else): the same number, one row.
    again = Browser(app)
    again.login(district.user(Role.SUPERVISOR).username)
    assert "0001/SLRT/XI/2026" in again.get(f"/admin/referral/letter/?id={referral.id}").get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(ReferralLetter)) == 1


def test_the_nik_is_masked_for_staff_who_do_not_serve_the_residents_village(app, district, db_session):
    # A Jepon case for a resident of Palon: Jepon's staff follow the case, not the resident's records.
    resident = make_resident(district, village=district.villages[1])
    referral = make_referral(district, make_case(district, resident, unit=district.puskesos[0]))
    db_session.commit()
    clerk = Browser(app)
    clerk.login(district.user(Role.FRONT_OFFICE, district.puskesos[0]).username)
    page = clerk.get(f"/admin/referral/letter/?id={referral.id}").get_data(as_text=True)
    assert resident.nik_masked in page and resident.nik not in page


def test_another_units_referral_is_not_found_and_gets_no_number(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    palon = Browser(app)
    palon.login(district.user(Role.SUPERVISOR, district.puskesos[1]).username)
    assert palon.get(f"/admin/referral/letter/?id={referral.id}").status_code == 404
    assert palon.get("/admin/referral/letter/?id=abc").status_code == 404
    assert db_session.scalar(select(func.count()).select_from(ReferralLetter)) == 0


def test_a_cancelled_referrals_letter_page_says_why_there_is_none(app, district, db_session):
    referral = make_referral(district)
    referrals.cancel_referral(referral, actor=district.user(Role.BACK_OFFICE), reason="salah lembaga")
    db_session.commit()
    back = Browser(app)
    back.login(district.user(Role.BACK_OFFICE).username)
    response = back.get(f"/admin/referral/letter/?id={referral.id}")
    assert response.status_code == 302 and f"/admin/case/details/?id={referral.case_id}" in response.headers["Location"]
    page = back.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tidak ada surat rujukan untuk rujukan yang dibatalkan." in page


# --------------------------------------------------------------------------- prints at the same moment


@pytest.fixture
def own_database(tmp_path):
    """An app on a database of its own (a SQLite file, or a fresh PostgreSQL database on the
    TEST_DATABASE_URL server): concurrent prints need committed rows and real connections."""
    server = os.environ.get("TEST_DATABASE_URL")
    settings = {"TESTING": True, "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
                "SECRET_KEY": "test-secret", "SLRT_PII_KEY": new_key(), "SLRT_PASSWORD_HASH": "plaintext",
                "SLRT_SMS_DISPATCH": False}
    if not server:
        app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'letters.sqlite'}"})
        yield app
        with app.app_context():
            db.engine.dispose()
        return
    with postgres_database(server) as url:
        app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": url})
        yield app
        with app.app_context():
            db.engine.dispose()


def test_prints_at_the_same_moment_never_share_a_number(own_database):
    app, prints = own_database, 8
    with app.app_context():
        upgrade()
        district = make_district()
        ids = [make_referral(district).id for _ in range(prints)]
        staff_id = district.user(Role.BACK_OFFICE).id
        same = ids[0]  # printed twice at once as well: still one letter
        db.session.commit()
        db.session.remove()
    barrier = threading.Barrier(prints + 1)
    numbers: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def print_letter(referral_id: int) -> None:
        with app.app_context():
            try:
                staff = db.session.get(Staff, staff_id)
                referral = db.session.get(Referral, referral_id)
                db.session.commit()  # end the read; the print starts together with the others
                barrier.wait()
                begin_write()
                letter = letters.issue_letter(referral, actor=staff)
                db.session.commit()
                numbers.setdefault(referral_id, []).append(letter.reference)
            except BaseException as error:  # reported below, with the others' results
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=print_letter, args=(rid,)) for rid in [*ids, same]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(set(numbers[same])) == 1  # the referral printed twice at once got one number
    assert sorted(int(refs[0][:4]) for refs in numbers.values()) == list(range(1, prints + 1))
    with app.app_context():
        rows = db.session.execute(select(ReferralLetter.number)).scalars().all()
        assert sorted(rows) == list(range(1, prints + 1))


def test_the_letter_is_signed_by_the_head_the_manager_named_on_the_units_screen(app, district, db_session):
    referral = make_referral(district)  # a case of Puskesos Jepon
    db_session.commit()
    post = district.puskesos[0]
    manager = signed_in(app, district, Role.MANAGER)
    form = {"name": post.name, "parent": str(district.secretariat.id), "region": str(post.region_id),
            "address": "Balai Desa Jepon", "phone": "", "head_name": "Sri Wahyuni, S.Sos.", "nip": "1976031220"}
    refused = manager.post(f"/admin/unit/edit/?id={post.id}", form)
    assert "NIP terdiri dari 18 angka" in refused.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(type(post), post.id).head_name is None  # nothing of the refused form was kept
    manager.get(f"/admin/unit/edit/?id={post.id}")
    saved = manager.post(f"/admin/unit/edit/?id={post.id}", {**form, "nip": "19760312 200501 2 004"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert 'value="19760312 200501 2 004"' in manager.get(f"/admin/unit/edit/?id={post.id}").get_data(as_text=True)
    assert "19760312 200501 2 004" in manager.get(f"/admin/unit/details/?id={post.id}").get_data(as_text=True)
    back = Browser(app)
    back.login(district.user(Role.BACK_OFFICE).username)
    page = back.get(f"/admin/referral/letter/?id={referral.id}").get_data(as_text=True)
    assert '<p class="name">Sri Wahyuni, S.Sos.</p>' in page and "NIP. 19760312 200501 2 004" in page
