"""Error pages a person understands: 400 (CSRF too), 403, 404, 405 and 500, signed in or not, in both languages."""

import re

import pytest
from werkzeug.exceptions import Forbidden

from fakes.builders import make_case, make_resident
from slrt.models.enums import Role
from tests.web import Browser

FO, BO = Role.FRONT_OFFICE, Role.BACK_OFFICE

#: Words of each page: (Indonesian, English) title.
TITLES = {
    400: ("Permintaan tidak dapat diproses", "The request cannot be read"),
    "csrf": ("Formulir tidak diterima", "The form was not accepted"),
    403: ("Tidak diizinkan", "Not allowed"),
    404: ("Halaman tidak ditemukan", "Page not found"),
    405: ("Alamat ini tidak bisa dibuka dengan cara ini", "This address cannot be opened this way"),
    500: ("Terjadi kesalahan pada sistem", "Something went wrong"),
}
#: What only the staff layout shows (the menu) and what only the plain page shows (the way to sign in).
MENU = 'class="navbar'
TRACEBACK = re.compile(r"Traceback|File \"|RuntimeError|broken on purpose|werkzeug", re.I)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _ways(html: str) -> list[tuple[str, str]]:
    """The page's links back, as (href, label)."""
    block = re.search(r'<ul class="error-ways">(.*?)</ul>', html, re.S)
    assert block, "an error page offers a way back"
    return [(href.replace("&amp;", "&"), label.strip())
            for href, label in re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', block.group(1))]


@pytest.fixture
def broken(app, monkeypatch):
    """Make the dashboard fail (a fault injected into its view) and let Flask answer as in production."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    def fail(code):
        def view(*args, **kwargs):
            if code == 500:
                raise RuntimeError("broken on purpose")
            raise Forbidden()
        for endpoint in ("admin.index", "root"):
            monkeypatch.setitem(app.view_functions, endpoint, view)
    return fail


@pytest.mark.parametrize("lang", ["id", "en"])
def test_signed_in_pages_sit_in_the_staff_layout(app, district, db_session, lang, broken):
    clerk = Browser(app)
    clerk.login(district.user(BO).username)
    clerk.get(f"/admin/?lang={lang}")
    title = {code: words[0 if lang == "id" else 1] for code, words in TITLES.items()}

    # CSRF: a form sent without its token
    page = clerk.post("/admin/resident/search/", {"search": "siti"}, token=False)
    assert page.status_code == 400 and title["csrf"] in _text(page) and MENU in _text(page)
    assert [url for url, _ in _ways(_text(page))] == ["/admin/", "/admin/resident/"]

    # 400: a character no person types, in the address of a list
    page = clerk.get("/admin/case/?search=%00")
    assert page.status_code == 400 and title[400] in _text(page) and MENU in _text(page)
    assert [url for url, _ in _ways(_text(page))] == ["/admin/", "/admin/case/"]

    # 404 on a model screen: back to its list
    page = clerk.get("/admin/case/details/?id=987654")
    assert page.status_code == 404 and title[404] in _text(page) and MENU in _text(page)
    assert [url for url, _ in _ways(_text(page))] == ["/admin/", "/admin/case/"]
    # 404 of an address nothing answers, on a list's path: that list
    page = clerk.get("/admin/referral/no-such-page", headers={"Referer": "http://localhost/admin/case/?page=2"})
    assert page.status_code == 404 and MENU in _text(page)
    assert [url for url, _ in _ways(_text(page))] == ["/admin/", "/admin/referral/", "/admin/case/?page=2"]

    # 405: a button's address opened directly
    page = clerk.get("/admin/resident/search/")
    assert page.status_code == 405 and title[405] in _text(page) and MENU in _text(page)

    # 403: a screen the role may not use (staff are for managers)
    page = clerk.get("/admin/staff/")
    assert page.status_code == 403 and title[403] in _text(page) and MENU in _text(page)
    assert "/admin/staff/" not in [url for url, _ in _ways(_text(page))]  # no way back into the refusal

    # 500: the traceback stays in the log; the page shows a reference
    broken(500)
    page = clerk.get("/admin/", headers={"Referer": "http://localhost/admin/case/"})
    assert page.status_code == 500 and title[500] in _text(page)
    assert not TRACEBACK.search(_text(page))
    assert re.search(r"(Kode kejadian|Reference): [0-9a-f]{8}", _text(page))
    assert [url for url, _ in _ways(_text(page))] == ["/admin/case/"]  # the dashboard itself failed


@pytest.mark.parametrize("lang", ["id", "en"])
def test_signed_out_pages_are_plain_and_lead_to_sign_in(app, district, lang, broken):
    visitor = Browser(app)
    visitor.get(f"/login?lang={lang}")
    title = {code: words[0 if lang == "id" else 1] for code, words in TITLES.items()}
    pages = {
        400: visitor.get("/login?next=%00"),
        "csrf": visitor.post("/login", {"username": "sek.back_office", "password": "x"}, token=False),
        404: visitor.get("/no-such-page"),
        405: visitor.get("/logout"),  # signing out is a button (POST)
    }
    broken(403)
    pages[403] = visitor.get("/")
    broken(500)
    pages[500] = visitor.get("/")
    for code, page in pages.items():
        assert page.status_code == (400 if code == "csrf" else code), code
        html = _text(page)
        assert title[code] in html and MENU not in html, code
        assert "SLRT Blora" in html  # the office's name
        assert _ways(html) == [("/login", "Masuk" if lang == "id" else "Sign in")], code
        assert not TRACEBACK.search(html)
        assert page.headers["Cache-Control"] == "no-store"


def test_another_units_record_looks_like_no_record(app, district, db_session):
    palon = district.puskesos[1]
    theirs = make_case(district, make_resident(district, village=district.villages[1]), unit=palon,
                       actor=district.user(FO, palon))
    db_session.commit()
    jepon = Browser(app)
    jepon.login(district.user(BO, district.puskesos[0]).username)
    other = jepon.get(f"/admin/case/details/?id={theirs.id}")
    missing = jepon.get(f"/admin/case/details/?id={theirs.id + 1000}")
    assert other.status_code == missing.status_code == 404
    assert "tidak ditemukan atau bukan wilayah unit Anda" in _text(other)

    def words(html: str, record_id: int) -> str:  # apart from the address itself and the response's nonce, token
        return re.sub(r'(nonce|value)="[^"]*"', "", html).replace(f"id={record_id}&", "id=ID&")

    assert words(_text(other), theirs.id) == words(_text(missing), theirs.id + 1000)
    assert theirs.ticket not in _text(other)


def test_a_referrer_from_another_site_is_not_a_way_back(app, district):
    clerk = Browser(app)
    clerk.login(district.user(BO).username)
    for referrer in ("https://evil.example/admin/case/", "javascript:alert(1)", "//evil.example/x",
                     "http://localhost//evil.example/x"):
        page = clerk.get("/admin/case/details/?id=987654", headers={"Referer": referrer})
        assert [url for url, _ in _ways(_text(page))] == ["/admin/", "/admin/case/"], referrer


def test_a_500_is_logged_with_the_reference_it_shows(app, district, broken, caplog):
    clerk = Browser(app)
    clerk.login(district.user(BO).username)
    broken(500)
    page = clerk.get("/admin/")
    reference = re.search(r"Kode kejadian: ([0-9a-f]{8})", _text(page)).group(1)
    assert any(reference in record.getMessage() for record in caplog.records)
    assert any(record.exc_info and "broken on purpose" in str(record.exc_info[1]) for record in caplog.records)
