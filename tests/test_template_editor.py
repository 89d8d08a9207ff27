"""The SMS template editor: each notice by name with its default text and fields, a preview with
example values, and why a character makes an SMS cost more (the rules: slrt/notices.py)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from slrt import notices
from slrt.errors import ValidationError
from slrt.models import SmsTemplate
from tests.test_admin_matrix import MA, signed_in


def _text(response) -> str:
    """The page as read: tags dropped, entities decoded, spaces collapsed."""
    page = re.sub(r"<script.*?</script>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_every_notice_has_a_name_and_each_field_a_meaning():
    for key in notices.DEFAULTS:
        assert notices.notice_name(key) != key
        for language in ("id", "en"):
            assert set(notices.template_fields(notices.DEFAULTS[key][language])) <= set(notices.FIELDS), key
    assert notices.notice_name("referral_completed.proxy").startswith(notices.notice_name("referral_completed"))
    assert notices.notice_name("something_new") == "something_new"


def test_an_unknown_field_is_refused_with_the_fields_allowed(db_session):
    with pytest.raises(ValidationError) as refused:
        notices.check_template("case_closed", "{office}: {tiket} ditutup")
    assert str(refused.value) == ("Isian tidak dikenal: tiket. Pemberitahuan ini hanya boleh memakai: "
                                  "{office}, {ticket}, {reply_to}.")
    with pytest.raises(ValidationError) as refused:
        notices.check_template("case_closed", "{office: tiket ditutup")
    assert "kurung kurawal" in str(refused.value)


def test_the_preview_fills_example_values_and_names_what_makes_it_ucs2(app):
    with app.test_request_context():
        plain = notices.preview(notices.DEFAULTS["referral_made"]["id"], "SLRT Blora")
        assert plain.text.startswith("SLRT Blora: rujukan 97612-9 ke Dinkes Blora, Jl. Dr. Sutomo 42. Bawa: SKTM")
        assert (plain.encoding, plain.segments, plain.outside_gsm7, plain.ucs2_warning) == ("gsm7", 1, [], None)
        assert plain.capacity == 160 and plain.length == len(plain.text)
        # curly quotes are straightened before sending, so they cost nothing; an emoji does
        fancy = notices.preview("{office}: \u201ctiket\u201d {ticket} ditutup \U0001F64F", "SLRT Blora")
        assert fancy.text == 'SLRT Blora: "tiket" 48213-7 ditutup \U0001F64F'
        assert (fancy.encoding, fancy.outside_gsm7, fancy.capacity) == ("ucs2", ["\U0001F64F"], 70)
        assert "\u201c\U0001F64F\u201d" in fancy.ucs2_warning
        assert "70 karakter per bagian SMS, bukan 160" in fancy.ucs2_warning


def test_the_list_names_every_notice_with_its_default_text(app, district, db_session):
    browser = signed_in(app, district, MA)
    page = _text(browser.get("/admin/sms_template/"))
    for key, texts in notices.DEFAULTS.items():
        assert notices.notice_name(key) in page
        assert texts["id"] in page
    assert "Pengaduan tercatat (nomor tiket), ke nomor titipan" in page
    assert "case_registered" not in page


def test_the_form_shows_the_notice_its_fields_and_a_preview(app, district, db_session):
    browser = signed_in(app, district, MA)
    response = browser.get("/admin/sms_template/new/?key=referral_rejected")
    page = _text(response)
    assert "Rujukan ditolak" in page
    assert notices.DEFAULTS["referral_rejected"]["id"] in page  # the default, to start from
    assert "{reason} — alasan lembaga menolak" in page and "{reply_to} —" in page
    assert "SLRT Blora: rujukan 97612-9 ditolak Dinkes Blora: berkas belum lengkap." in page  # the preview
    assert "sms_counter.js" in response.get_data(as_text=True)
    # a refused text is said with the fields allowed, and the preview shows the text as typed
    page = _text(browser.post("/admin/sms_template/new/", {
        "key": "case_closed", "language": "id", "body": "{office}: tiket {tiket} ditutup \U0001F64F"}))
    assert "Isian tidak dikenal: tiket. Pemberitahuan ini hanya boleh memakai: {office}, {ticket}, {reply_to}." in page
    assert "Tidak ada dalam abjad GSM-7: \u201c\U0001F64F\u201d" in page
    assert db_session.scalar(select(SmsTemplate.id)) is None
    # saved: the edit page previews the manager's text
    browser.get("/admin/sms_template/new/")
    browser.post("/admin/sms_template/new/", {"key": "case_closed", "language": "id",
                                              "body": "{office}: tiket {ticket} selesai. Terima kasih."})
    stored = db_session.scalar(select(SmsTemplate))
    page = _text(browser.get(f"/admin/sms_template/edit/?id={stored.id}"))
    assert "Kasus ditutup" in page and "SLRT Blora: tiket 48213-7 selesai. Terima kasih." in page
    assert "Tidak ada dalam abjad GSM-7" not in page


@pytest.mark.slow
def test_the_help_follows_the_choice_and_the_typing_in_chromium(tmp_path, browser):
    """In the browser the preview, the count and the UCS-2 explanation follow each keystroke, and the
    notice's name, default text and fields follow the notice chosen."""
    from slrt import demo
    from slrt.extensions import db
    from slrt.models import Staff
    from tests.live import live_app, serving

    app = live_app(tmp_path, "editor-test", SLRT_SMS_SENDER_NAME="SLRT Blora")
    with app.app_context():
        demo.seed(residents=20, random_seed=7)
        security = app.extensions["security"]
        secret = security.totp_factory.generate_totp_secret()
        security.datastore.tf_set(db.session.scalar(select(Staff).where(Staff.username == "manager")),
                                  "authenticator", totp_secret=secret)
        db.session.commit()
    with serving(app) as base:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/login")
        page.fill("#username", "manager")
        page.fill("#password", "demo-manager-2026")
        page.click("button[type=submit]")
        page.wait_for_url("**/tf-validate**")
        with app.app_context():
            page.fill("#code", security.totp_factory.generate_totp_password(secret))
        page.press("#code", "Enter")
        page.wait_for_url(f"{base}/admin/**")
        page.goto(f"{base}/admin/sms_template/new/?key=case_closed")
        help_box = page.locator("#sms-help")
        assert "Kasus ditutup" in help_box.inner_text()
        page.fill("#body", "{office}: tiket {ticket} ditutup \U0001F64F")
        preview = page.locator('[data-help="preview"]').inner_text()
        assert preview == "SLRT Blora: tiket 48213-7 ditutup \U0001F64F"
        assert "UCS-2" in page.locator("#sms-counter").inner_text()
        warning = page.locator('[data-help="ucs2"]')
        assert warning.is_visible() and "70 karakter per bagian SMS, bukan 160" in warning.inner_text()
        assert "\u201c\U0001F64F\u201d" in warning.inner_text()  # the character itself, not its halves
        artifacts = Path(__file__).resolve().parents[1] / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "sms_template_editor.png"), full_page=True)
        page.fill("#body", "{office}: tiket {ticket} ditutup.")
        assert not warning.is_visible() and "GSM-7" in page.locator("#sms-counter").inner_text()
        # choosing in select2's dropdown sets the hidden select and tells jQuery, like this
        page.evaluate("jQuery('#key').val('referral_rejected').trigger('change')")
        assert "Rujukan ditolak" in help_box.inner_text() and "{reason}" in help_box.inner_text()
        assert errors == []
        page.close()
