"""Pages and static files on a slow line: compressed where it helps, static files kept a year by digest."""

from __future__ import annotations

import gzip
import hashlib
import re

import brotli

from fakes.builders import make_referral
from slrt.models.enums import Role
from tests.web import Browser

BR_GZIP = {"Accept-Encoding": "gzip, deflate, br"}
STATIC = re.compile(r'(?:href|src)="(/(?:admin/)?static/[^"]+)"')


def _signed_in(app, district, role=Role.BACK_OFFICE) -> Browser:
    clerk = Browser(app)
    clerk.login(district.user(role).username)
    return clerk


def _text(response) -> str:
    encoding = response.headers.get("Content-Encoding")
    body = response.get_data()
    if encoding == "br":
        return brotli.decompress(body).decode()
    if encoding == "gzip":
        return gzip.decompress(body).decode()
    assert encoding is None, encoding
    return body.decode()


def test_pages_are_compressed_for_browsers_that_take_it(app, district):
    clerk = _signed_in(app, district)
    plain = clerk.get("/admin/case/")
    assert "Content-Encoding" not in plain.headers  # the client asked for no compression

    brotli_page = clerk.get("/admin/case/", headers={"Accept-Encoding": "gzip, br"})
    assert brotli_page.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in brotli_page.headers["Vary"]
    assert brotli_page.headers["Cache-Control"] == "no-store"
    assert len(brotli_page.get_data()) < len(plain.get_data()) / 4
    gzip_page = clerk.get("/admin/case/", headers={"Accept-Encoding": "gzip"})
    assert gzip_page.headers["Content-Encoding"] == "gzip"
    for page in (brotli_page, gzip_page):
        # The same page, its per-response nonce and CSRF token aside.
        assert re.sub(r'(nonce|value)="[^"]*"', "", _text(page)) == re.sub(r'(nonce|value)="[^"]*"', "",
                                                                           plain.get_data(as_text=True))


def test_a_page_asked_for_by_another_site_is_not_compressed(app, district):
    # BREACH: another site's requests could read secrets (the CSRF token) from compressed sizes.
    clerk = _signed_in(app, district)
    response = clerk.get("/admin/case/", headers={**BR_GZIP, "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    same_site = clerk.get("/admin/case/", headers={**BR_GZIP, "Sec-Fetch-Site": "same-origin"})
    assert same_site.headers["Content-Encoding"] == "br"


def test_csv_exports_stream_uncompressed(app, district, db_session):
    for _ in range(3):
        make_referral(district)
    db_session.commit()
    boss = _signed_in(app, district, Role.SUPERVISOR)
    export = boss.get("/admin/referral/export/csv/", headers=BR_GZIP)
    assert export.status_code == 200
    assert "Content-Encoding" not in export.headers and export.mimetype == "text/csv"
    assert len(export.get_data(as_text=True).strip().splitlines()) == 4
    report = boss.get("/admin/report.csv", headers=BR_GZIP)
    assert report.status_code == 200 and "Content-Encoding" not in report.headers
    assert report.get_data(as_text=True).startswith("\ufeff")


def test_static_files_are_addressed_by_their_content_and_kept_a_year(app, district):
    clerk = _signed_in(app, district)
    page = clerk.get("/admin/case/").get_data(as_text=True)
    addresses = STATIC.findall(page)
    assert "/static/slrt.css" in {a.split("?")[0] for a in addresses}
    assert any(a.startswith("/admin/static/vendor/jquery.min.js?") for a in addresses)  # Flask-Admin's too
    for address in addresses:
        path, _, version = address.partition("?v=")
        folder = app.static_folder if not path.startswith("/admin/") else app.blueprints["admin"].static_folder
        name = path.removeprefix("/admin/static/" if path.startswith("/admin/") else "/static/")
        with open(f"{folder}/{name}", "rb") as file:
            assert version == hashlib.sha256(file.read()).hexdigest()[:16], address

        response = app.test_client().get(address, headers=BR_GZIP)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable", address
        # No session cookie: it changes with every page, and Vary: Cookie would defeat the cache.
        assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
        if path.endswith((".css", ".js")):
            assert response.headers["Content-Encoding"] == "br"
            assert "Accept-Encoding" in response.headers["Vary"]
            again = app.test_client().get(address, headers={**BR_GZIP, "If-None-Match": response.headers["ETag"]})
            assert again.status_code == 304


def test_a_static_file_under_another_version_is_not_kept(app):
    client = app.test_client()
    stale = client.get("/static/slrt.css?v=0123456789abcdef", headers=BR_GZIP)
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
    unversioned = client.get("/static/slrt.css")
    assert unversioned.headers["Cache-Control"] == "no-cache"
    assert unversioned.get_data() == open(f"{app.static_folder}/slrt.css", "rb").read()
    gzip_only = client.get("/static/slrt.css", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(gzip_only.get_data()) == unversioned.get_data()
    refused = client.get("/static/slrt.css", headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/no-such.css?v=1").status_code == 404


def test_a_changed_file_gets_a_new_address(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    sheet = tmp_path / "sheet.css"
    sheet.write_text("body { color: black; }\n")
    with app.test_request_context():
        from flask import url_for

        first = url_for("static", filename="sheet.css")
        sheet.write_text("body { color: navy; }\n")
        second = url_for("static", filename="sheet.css")
        assert url_for("static", filename="missing.css") == "/static/missing.css"
    assert first != second and first.startswith("/static/sheet.css?v=")
    client = app.test_client()
    assert client.get(second).headers["Cache-Control"] == "public, max-age=31536000, immutable"
    old = client.get(first)  # a page from before the change: the new file, not kept
    assert old.headers["Cache-Control"] == "no-cache" and b"navy" in old.get_data()


def test_pages_ask_for_no_favicon_font_or_duplicate_stylesheet(app, district):
    clerk = _signed_in(app, district)
    for url in ("/admin/", "/admin/case/", "/login"):
        page = (clerk if url != "/login" else Browser(app)).get(url).get_data(as_text=True)
        assert '<link rel="icon" href="data:,">' in page, url
        addresses = STATIC.findall(page)
        assert not any("font-awesome" in a or "swatch" in a for a in addresses), url
        assert len(addresses) == len(set(addresses)), url
    # Flask-Admin's older Bootstrap pieces (already in bootstrap.min.js) and the multi-level menu hack
    page = clerk.get("/admin/case/").get_data(as_text=True)
    assert "util.js" not in page and "dropdown.js" not in page and "ml-hack" not in page
    # Our own pages skip the list and form widgets; Flask-Admin's lists keep them.
    dashboard = clerk.get("/admin/").get_data(as_text=True)
    assert "select2" not in dashboard and "moment" not in dashboard
    assert "select2.min.js" in page and "moment.min.js" in page


def test_the_sign_in_page_prefetches_the_staff_pages_files(app, district):
    page = Browser(app).get("/login").get_data(as_text=True)
    prefetched = set(re.findall(r'<link rel="prefetch" href="([^"]+)"', page))
    for href in prefetched:
        assert Browser(app).client.get(href).status_code == 200, href
    # Exactly the addresses the dashboard and the lists ask for, so they are in the cache.
    clerk = _signed_in(app, district)
    for url in ("/admin/", "/admin/case/", "/admin/referral/", "/admin/resident/"):
        wanted = set(STATIC.findall(clerk.get(url).get_data(as_text=True)))
        loaded_there = {a for a in wanted if a.startswith("/static/slrt.css")}  # the sign-in page's stylesheet
        assert wanted - loaded_there <= prefetched, (url, wanted - prefetched)
