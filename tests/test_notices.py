"""SMS texts: GSM-7 kept, one segment with realistic data, discreet to a phone not the resident's."""

import pytest

from slrt import gsm, notices
from slrt.errors import PermissionDenied, ValidationError
from slrt.models import SmsTemplate
from slrt.models.enums import Role, SmsEncoding


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, SmsEncoding.GSM7, 1),
        ("a" * 161, SmsEncoding.GSM7, 2),
        ("a" * 306, SmsEncoding.GSM7, 2),
        ("a" * 307, SmsEncoding.GSM7, 3),
        ("[" * 80, SmsEncoding.GSM7, 1),  # escape characters count two septets
        ("[" * 81, SmsEncoding.GSM7, 2),
        ("é" * 160, SmsEncoding.GSM7, 1),  # é is in the GSM-7 basic set
        ("ê" * 70, SmsEncoding.UCS2, 1),
        ("ê" * 71, SmsEncoding.UCS2, 2),
        ("ê" * 134, SmsEncoding.UCS2, 2),
        ("ê" * 135, SmsEncoding.UCS2, 3),
        ("Salam 🙏", SmsEncoding.UCS2, 1),
    ],
)
def test_segments(text, encoding, segments):
    assert gsm.segments(text) == (encoding, segments)


def test_normalize_keeps_text_in_gsm7():
    pasted = "\u201cSelesai\u201d \u2013 Bu Siti\u2019s berkas\u2026"
    clean = gsm.normalize(pasted)
    assert clean == "\"Selesai\" - Bu Siti's berkas..."
    assert gsm.encoding_of(clean) == SmsEncoding.GSM7


REALISTIC = {
    "office": "SLRT Blora",
    "reply_to": "(0296) 531234",
    "ticket": "48213-7",
    "code": "5302119-4",
    "first_name": "Sulistyowati",
    "resident_name": "Sulistyowati Rahayuningsih",
    "agency": "RSUD dr. R. Soetijono",
    "agency_address": "Jl. Dr. Sutomo No. 42, Blora",
    "documents": "SKTM, fc KK, fc KTP, akta lahir, map",
    "due": "12 Des 2026",
    "service": "Keringanan biaya RSUD",
    "reason": "Peserta sudah terdaftar BPJS mandiri, mohon alihkan ke PBI lewat Dinsos",
}


@pytest.mark.parametrize("key", sorted(notices.DEFAULTS))
@pytest.mark.parametrize("language", ["id", "en"])
def test_every_default_template_fits_one_gsm7_segment(db_session, key, language):
    rendered = notices.render(key, language, REALISTIC)
    assert rendered.encoding == SmsEncoding.GSM7
    assert rendered.segments == 1, rendered.body
    assert "{" not in rendered.body


@pytest.mark.parametrize("key", [k for k in notices.DEFAULTS if k.endswith(".proxy")])
def test_proxy_variants_name_no_service_and_never_say_miskin(db_session, key):
    body = notices.render(key, "id", REALISTIC).body
    assert REALISTIC["service"] not in body
    assert "miskin" not in body.lower()
    assert REALISTIC["reason"] not in body


def test_no_default_template_says_miskin():
    assert not any("miskin" in text.lower() for variants in notices.DEFAULTS.values() for text in variants.values())


def test_a_manager_edit_overrides_the_default(db_session):
    from slrt.models import SmsTemplate

    db_session.add(SmsTemplate(key="case_closed", language="id", body="{office}: tiket {ticket} ditutup."))
    db_session.flush()
    assert notices.render("case_closed", "id", REALISTIC).body == "SLRT Blora: tiket 48213-7 ditutup."


@pytest.mark.parametrize(("body", "message"), [
    ("", "Teks tidak boleh kosong"),
    ("{office}: warga Miskin {ticket}", "Jangan gunakan kata \"miskin\""),
    ("{office}: {nik} {ticket} ditutup", "Isian tidak dikenal: nik"),
])
def test_a_template_text_is_refused_without_any_screen(db_session, body, message):
    with pytest.raises(ValidationError, match=message) as refused:
        notices.check_template("case_closed", body)
    assert refused.value.field == "body"


def test_a_template_text_is_kept_in_gsm7(db_session):
    assert notices.check_template("case_closed", "{office}: \u201ctiket\u201d {ticket}\u2026") == \
        '{office}: "tiket" {ticket}...'


def test_saving_a_template_is_for_district_managers_and_clears_the_spam_flag(district, db_session):
    flagged = SmsTemplate(key="case_closed", language="id", body="{office}: tiket {ticket} ditutup.",
                          is_flagged=True)
    db_session.add(flagged)
    db_session.flush()
    text = "{office}: tiket {ticket} selesai."
    for actor in (district.user(Role.SUPERVISOR), district.user(Role.MANAGER, district.puskesos[0])):
        with pytest.raises(PermissionDenied):
            notices.save_template(flagged, key="case_closed", language="id", body=text, actor=actor)
    manager = district.user(Role.MANAGER)
    with pytest.raises(ValidationError, match="miskin"):
        notices.save_template(flagged, key="case_closed", language="id", body=text + " miskin", actor=manager)
    with pytest.raises(ValidationError, match="sudah punya teks sendiri"):
        notices.save_template(None, key="case_closed", language="id", body=text, actor=manager)
    assert flagged.is_flagged and flagged.body != text
    notices.save_template(flagged, key="case_closed", language="id", body=text, actor=manager)
    assert (flagged.body, flagged.is_flagged, flagged.updated_by_id) == (text, False, manager.id)
    english = notices.save_template(None, key="case_closed", language="en", body="{office}: {ticket} closed.",
                                    actor=manager)
    assert english.id and not english.is_flagged
