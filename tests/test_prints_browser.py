"""The prints as Chromium prints them: the A6 referral slip with 8 documents and the A4 referral
letter each come out as one page of their size, in the domain's card colour.

Debian's chromium, driven by Playwright (as tests/test_browser.py), prints each page to PDF with the
page size its CSS asks for (what Ctrl-P does); pypdf counts the pages and reads the colours the PDF
paints. The PDFs and screenshots go to test-artifacts/ for review.
"""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from fakes.builders import make_case, make_district, make_resident
from slrt import referrals
from slrt.extensions import db
from slrt.models import Document, Service, service_document
from slrt.models.enums import Domain, Role
from tests.live import live_app, need_chromium, serving
from tests.web import PASSWORD

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.slow

#: Eight documents with names as long as a real catalogue's (slrt/demo/data.py).
DOCUMENTS = (
    ("SKTM", "Surat Keterangan Tidak Mampu (SKTM) dari desa/kelurahan"),
    ("FC_KK", "Fotokopi Kartu Keluarga (KK)"),
    ("FC_KTP", "Fotokopi KTP-el atau KIA setiap anggota keluarga"),
    ("FC_AKTA", "Fotokopi akta kelahiran (bagi yang belum punya KTP/KIA)"),
    ("PENGANTAR_RT", "Surat pengantar RT/RW"),
    ("SURAT_RS", "Surat keterangan rawat inap dan rincian biaya dari rumah sakit"),
    ("KARTU_KIS", "Kartu KIS/BPJS Kesehatan lama"),
    ("MAP", "Map / stopmap untuk berkas"),
)

#: The card colours (slip.css), as the PDF and the browser give them.
BLUE, YELLOW = (47, 111, 179), (224, 176, 0)

#: A4 and A6 in PDF points (1/72 inch).
A4, A6 = (595.3, 841.9), (297.6, 419.5)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app over HTTP on a database with a health referral (8 documents, 5 checked) and an
    education one; (base URL, back office username, {domain: referral id})."""
    need_chromium()
    app = live_app(tmp_path_factory.mktemp("prints"), "prints-test", SLRT_SMS_SENDER_NAME="SLRT Blora",
                   SLRT_SMS_DISPATCH=False)
    with app.app_context():
        district = make_district()
        district.secretariat.address = "Jl. Pemuda No. 16, Blora"
        documents = [Document(code=code, name=name, sms_name=code.lower()[:10]) for code, name in DOCUMENTS]
        service = Service(code="BPJS_PBI_LENGKAP", name="Aktivasi BPJS Kesehatan PBI (KIS) dengan berkas lengkap",
                          short_name="Aktivasi KIS PBI", domain=Domain.HEALTH,
                          default_agency=district.agencies["bpjs"], sla_days=10)
        school = Service(code="KIP", name="Surat pengantar KIP (Kartu Indonesia Pintar)", short_name="Pengantar KIP",
                         domain=Domain.EDUCATION, default_agency=district.agencies["baznas"], sla_days=5)
        db.session.add_all([*documents, service, school])
        db.session.flush()
        for position, document in enumerate(documents):
            db.session.execute(service_document.insert().values(
                service_id=service.id, document_id=document.id, position=position))
        db.session.execute(service_document.insert().values(
            service_id=school.id, document_id=documents[0].id, position=0))
        resident = make_resident(district, name="Sri Wahyuningsih Kusumaningrum")
        resident.address = "Dukuh Krajan RT 002 RW 001, gang sebelah masjid Al-Ikhlas, belakang balai desa"
        back = district.user(Role.BACK_OFFICE)
        case = make_case(district, resident, unit=district.secretariat)
        health = referrals.refer(case, service=service, actor=back,
                                 documents_checked=["SKTM", "FC_KK", "FC_KTP", "PENGANTAR_RT", "MAP"])
        education = referrals.refer(case, service=school, actor=back)
        db.session.commit()
        ids = {Domain.HEALTH: health.id, Domain.EDUCATION: education.id}
        username = back.username
    with serving(app) as url:
        yield url, username, ids


@pytest.fixture(scope="module")
def page(live, browser):
    base, username, _ids = live
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    # The prints live under the app's Content-Security-Policy too (the QR code is inline SVG).
    page.csp_violations = []
    page.on("console", lambda message: page.csp_violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text else None)
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    yield page
    context.close()


def _print(page, name: str) -> PdfReader:
    """Print the page as Chromium's Ctrl-P would (the CSS page size), keep the PDF, read it back."""
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(prefer_css_page_size=True, print_background=False)
    (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
    page.emulate_media(media="print")  # the screenshot as printed
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.emulate_media(media="null")
    return PdfReader(BytesIO(pdf))


def _is_size(reader: PdfReader, size: tuple[float, float]) -> bool:
    """Whether the first page is ``size`` (Chromium rounds the page to whole CSS pixels)."""
    box = reader.pages[0].mediabox
    return abs(float(box.width) - size[0]) < 1.5 and abs(float(box.height) - size[1]) < 1.5


_FILL = re.compile(rb"([\d.]+) ([\d.]+) ([\d.]+) (?:rg|sc|scn)\b")


def _colours(reader: PdfReader) -> set[tuple[int, int, int]]:
    """Every RGB fill colour the first page paints with, as 0-255."""
    stream = reader.pages[0].get_contents().get_data()
    return {tuple(round(float(c) * 255) for c in match.groups()) for match in _FILL.finditer(stream)}


def _css_colour(page, selector: str, prop: str) -> tuple[int, ...]:
    value = page.locator(selector).evaluate(f"e => getComputedStyle(e).{prop}")
    return tuple(int(n) for n in re.findall(r"\d+", value)[:3])


def test_the_slip_with_8_documents_prints_on_one_a6_page_in_its_card_colour(live, page):
    base, _username, ids = live
    page.goto(f"{base}/admin/referral/slip/?id={ids[Domain.HEALTH]}")
    reader = _print(page, "prints-slip-a6")  # first: the PDF and screenshot are kept whatever fails
    assert "KARTU RUJUKAN" in page.content()
    assert page.locator(".checklist li").count() == 8
    assert page.locator(".checklist li.missing").count() == 3
    # Nothing is cut off in print: the last document and the signature line lie inside the card.
    page.emulate_media(media="print")
    card = page.locator(".slip").bounding_box()
    for inner in (".checklist li >> nth=7", ".slip footer .sign"):
        box = page.locator(inner).bounding_box()
        assert box["y"] + box["height"] <= card["y"] + card["height"], inner
    page.emulate_media(media="null")  # back to no emulation: page.pdf() prints with print media again
    assert _css_colour(page, ".slip", "borderTopColor") == BLUE
    assert _css_colour(page, ".slip .band", "backgroundColor") == BLUE
    assert page.locator(".slip").evaluate("e => getComputedStyle(e).printColorAdjust") == "exact"

    assert len(reader.pages) == 1
    assert _is_size(reader, A6), reader.pages[0].mediabox
    assert BLUE in _colours(reader)  # the card colour is printed, not dropped as a background
    text = reader.pages[0].extract_text()
    assert re.search(r"KODE RUJUKAN\s+\d{4,}-\d\s+TIKET\s+\d{4,}-\d", text), text  # both codes, large
    for line in ("BPJS Kesehatan Cabang Blora", "Jl. Pemuda 21 Blora", "Map / stopmap untuk berkas"):
        assert line in text, line

    page.goto(f"{base}/admin/referral/slip/?id={ids[Domain.EDUCATION]}")
    assert _css_colour(page, ".slip .band", "backgroundColor") == YELLOW
    reader = _print(page, "prints-slip-a6-education")
    assert len(reader.pages) == 1 and YELLOW in _colours(reader)
    assert page.csp_violations == []


def test_the_letter_prints_on_one_a4_page(live, page):
    base, _username, ids = live
    page.goto(f"{base}/admin/referral/letter/?id={ids[Domain.HEALTH]}")
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"0001/SLRT/[IVX]+/20\d\d", reference), reference
    assert page.locator("table.documents tbody tr").count() == 8
    assert page.locator(".qr svg").count() == 1

    reader = _print(page, "prints-letter-a4")
    assert len(reader.pages) == 1
    assert _is_size(reader, A4), reader.pages[0].mediabox
    assert BLUE in _colours(reader)  # the domain badge
    text = reader.pages[0].extract_text()
    for line in (reference, "SEKRETARIAT SLRT BLORA", "Kepala Sekretariat SLRT Blora", "Sri Wahyuningsih"):
        assert line in text, line

    # A reprint keeps the number; the next referral's letter takes the next one.
    page.reload()
    assert page.locator(".reference").inner_text() == reference
    page.goto(f"{base}/admin/referral/letter/?id={ids[Domain.EDUCATION]}")
    assert page.locator(".reference").inner_text() == "0002" + reference[4:]
    assert len(_print(page, "prints-letter-a4-education").pages) == 1
    assert page.csp_violations == []
