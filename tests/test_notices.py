"""SMS texts: GSM-7 kept, one segment with realistic data, discreet to a phone not the resident's."""

import pytest

from slrt import gsm, notices
from slrt.models.enums import SmsEncoding


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
