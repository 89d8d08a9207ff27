"""Length and content limits: what a person or an SMS writes is checked by the domain, in Indonesian.

The maximum of a text is its column's (slrt.text); control characters are refused (line
breaks kept where a text has lines); a received SMS is kept whatever it holds, made storable;
only ASCII digits are read as codes; a reply to an SMS is at most two segments.
"""

import json
from datetime import date
from html import unescape

import pytest
from sqlalchemy import func, select

from fakes.android import FakeAndroidPhone
from fakes.builders import make_case, make_nik, make_referral, make_resident
from slrt import cases, gsm, referrals, residents
from slrt.codes import format_code
from slrt.errors import ValidationError
from slrt.models import Case, Event, Household, Referral, Resident, SmsMessage, SmsTemplate
from slrt.models.enums import Role, SmsDirection
from tests.test_admin_matrix import signed_in
from tests.test_delivery import signed  # noqa: F401  (the signed-webhook fixture)
from tests.test_inbound import last_reply
from tests.test_inbound import text as sms  # noqa: F401  (a fixture: an SMS through the signed webhook)
from tests.web import Browser

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture
def clerk(app, district, db_session):
    browser = Browser(app)
    browser.login(district.user(Role.FRONT_OFFICE, district.puskesos[0]).username)
    return browser


def _intake(district, nik, **changes):
    form = {"nik": nik, "name": "Sumarni", "sex": "F", "birth_date": "1975-03-09",
            "village_id": district.villages[0].id, "address": "RT 03 RW 02", "phone": "0813-2555-0177",
            "phone_owner": "own", "unit_id": district.puskesos[0].id, "channel": "walk_in", "urgency": "normal",
            "summary": "KIS tidak aktif saat berobat", "needs": [str(district.services["bpjs_pbi"].id)]}
    return {**form, **changes}


def _nothing_stored(db_session, nik) -> bool:
    from slrt.pii import vault

    db_session.expire_all()
    return db_session.scalar(select(Resident).where(Resident.nik_hash == vault.lookup_hash("nik", nik))) is None


# ---- the limit comes from the column ---------------------------------------------------------

def test_the_maximum_is_the_columns():
    from slrt import text

    assert text.max_length(Resident.address) == Resident.__table__.c.address.type.length == 255
    assert text.max_length(Case.summary) == Case.__table__.c.summary.info["max_length"]


# ---- through the screens ---------------------------------------------------------------------

def test_a_10000_character_address_is_refused_in_indonesian_and_nothing_is_stored(clerk, district, db_session):
    nik = make_nik("F", birth=date(1975, 3, 9))
    clerk.get("/admin/intake/")
    response = clerk.post("/admin/intake/", _intake(district, nik, address="Jl. Pemuda " + "x" * 9_989))
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Alamat terlalu panjang: paling banyak 255 karakter (terisi 10000)." in page
    assert _nothing_stored(db_session, nik)
    assert db_session.scalar(select(func.count()).select_from(Case)) == 0


def test_a_nul_in_a_form_answers_400_in_indonesian_and_stores_nothing(clerk, district, db_session):
    nik = make_nik("F", birth=date(1975, 3, 9))
    clerk.get("/admin/intake/")
    response = clerk.post("/admin/intake/", _intake(district, nik, name="Sum\x00arni"))
    assert response.status_code == 400
    assert "Permintaan tidak dapat diproses" in response.get_data(as_text=True)
    assert _nothing_stored(db_session, nik)


def test_a_10000_character_case_summary_is_refused(clerk, district, db_session):
    nik = make_nik("F", birth=date(1975, 3, 9))
    clerk.get("/admin/intake/")
    page = unescape(clerk.post("/admin/intake/", _intake(district, nik, summary="sakit " * 2000)).get_data(
        as_text=True))
    assert "Keluhan warga terlalu panjang: paling banyak 2000 karakter (terisi 11999)." in page
    assert _nothing_stored(db_session, nik)


def test_a_rejection_reason_with_a_control_character_changes_nothing(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    back = signed_in(app, district, Role.BACK_OFFICE)
    back.get(f"/admin/case/details/?id={referral.case_id}")
    back.post(f"/admin/case/referral/{referral.id}/reject", {"note": "tidak memenuhi\x1b[2J syarat"})
    page = unescape(back.get(f"/admin/case/details/?id={referral.case_id}").get_data(as_text=True))
    assert "Alasan berisi karakter kontrol yang tidak dapat disimpan" in page
    db_session.expire_all()
    assert db_session.get(Referral, referral.id).status == "sent"


def test_a_template_longer_than_its_column_is_refused_beside_the_field(app, district, db_session):
    manager = signed_in(app, district, Role.MANAGER)
    manager.get("/admin/sms_template/new/")
    response = manager.post("/admin/sms_template/new/", {"key": "case_closed", "language": "id",
                                                         "body": "{office}: tiket {ticket} ditutup. " * 30})
    assert response.status_code == 200  # the form again, with the error
    assert "Teks terlalu panjang: paling banyak 640 karakter" in unescape(response.get_data(as_text=True))
    assert db_session.scalar(select(func.count()).select_from(SmsTemplate)) == 0


# ---- in the domain ---------------------------------------------------------------------------

def test_a_nul_in_a_name_is_refused(district, db_session):
    with pytest.raises(ValidationError) as refused:
        make_resident(district, name="Siti\x00Aminah")
    assert refused.value.field == "name"


@pytest.mark.parametrize("address", ["RT 02\x00", "RT 02\nRW 01", "RT 02 \u202eRW 01"])
def test_control_characters_in_an_address_are_refused(district, db_session, address):
    with pytest.raises(ValidationError, match="^Alamat berisi karakter kontrol yang tidak dapat disimpan") as refused:
        residents.register_household(kk_number="3316012005100007", address=address, village=district.villages[0],
                                     actor=district.user(Role.FRONT_OFFICE))
    assert refused.value.field == "address"
    assert db_session.scalar(select(func.count()).select_from(Household)) == 0


def test_a_summary_keeps_its_lines_and_tabs(district, db_session):
    case = cases.open_case(resident=make_resident(district), unit=district.puskesos[0], channel="walk_in",
                           summary="KIS tidak aktif.\r\n\tSudah ke puskesmas.", actor=district.user(Role.FRONT_OFFICE),
                           needs=[district.services["bpjs_pbi"]])
    assert case.summary == "KIS tidak aktif.\n\tSudah ke puskesmas."


def test_a_note_too_long_leaves_the_referral_as_it_was(district, db_session):
    referral = make_referral(district)
    events = db_session.scalar(select(func.count()).select_from(Event))
    with pytest.raises(ValidationError, match=r"^Catatan terlalu panjang: paling banyak 1000 karakter \(terisi 1001\)"):
        referrals.complete(referral, actor=district.user(Role.BACK_OFFICE), note="x" * 1001)
    assert referral.status == "sent" and db_session.scalar(select(func.count()).select_from(Event)) == events


# ---- SMS -------------------------------------------------------------------------------------

def test_cek_with_arabic_indic_digits_is_not_read_as_a_ticket(district, db_session, sms):  # noqa: F811
    case = make_case(district)
    db_session.commit()
    sms(case.resident.phone, f"CEK {format_code(case.ticket).translate(ARABIC_INDIC)}")
    reply = last_reply(db_session, case.resident.phone)
    assert reply.template_key == "reply_help_resident"
    assert format_code(case.ticket) not in reply.body


def test_a_5000_digit_cek_gets_a_reply_of_at_most_two_segments(district, db_session, sms):  # noqa: F811
    case = make_case(district)
    db_session.commit()
    sms(case.resident.phone, "CEK " + "4" * 5000)
    reply = last_reply(db_session, case.resident.phone)
    assert reply.segments <= 2 and gsm.segments(reply.body)[1] <= 2
    assert "4444444444444444444" not in reply.body  # what was typed is not repeated back


def test_a_reply_never_exceeds_two_segments_whatever_it_carries(district, db_session):
    from slrt import notices

    rendered = notices.render("reply_not_found", "id", {"office": "SLRT Blora", "reference": "9" * 3000})
    assert rendered.segments == 2 and rendered.body.endswith("..")


def test_a_received_sms_is_kept_storable_whatever_it_holds(app, district, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "SLRT_ANDROID_SIGNING_KEY", "key")
    resident = make_resident(district)
    db_session.commit()
    raw = json.dumps({"event": "sms:received", "payload": {
        "messageId": "in-limits-1", "sender": resident.phone, "message": "CEK\x00 12345\x1b" + "z" * 3000}}).encode()
    with app.app_context():
        response = app.test_client().post("/sms/android/inbound", data=raw,
                                          headers=FakeAndroidPhone.signed_headers("key", raw))
    assert response.status_code == 204
    stored = db_session.scalar(select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND,
                                                        SmsMessage.phone == resident.phone))
    assert "\x00" not in stored.body and "\x1b" not in stored.body
    assert len(stored.body) == SmsMessage.__table__.c.body.info["max_length"]
