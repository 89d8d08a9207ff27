"""How pages and static files cross a slow office line: compressed, and static files kept for a year.

- Pages (HTML, JSON) are compressed by Flask-Compress (brotli, else gzip) as they are sent.
  Nothing streamed is compressed (CSV exports keep streaming batch by batch), and nothing a
  spreadsheet or a PDF viewer opens: only the types in ``COMPRESS_MIMETYPES``. A page asked
  for by another site (``Sec-Fetch-Site: cross-site``) goes uncompressed, so no other site can
  learn a page's secrets (its CSRF token) from compressed sizes (BREACH); the session cookie
  is SameSite=Lax as well.
- Static files (ours under /static, Flask-Admin's under /admin/static) are addressed by their
  content: ``url_for('static', filename='slrt.css')`` gives ``/static/slrt.css?v=<digest>``
  (Flask-Admin's ``admin_static.url`` goes through ``url_for`` too). A request whose ``v`` is
  the file's digest is answered ``Cache-Control: public, max-age=31536000, immutable``: the
  browser keeps it a year and never asks again; a changed file has a new digest, hence a new
  address. Any other ``v`` (an old page) gets the current file with ``no-cache``. A static
  file's answer neither sets nor varies on the session cookie: the cookie changes with every
  page (its idle timer), and ``Vary: Cookie`` would make the browser ask for every file again.
- Static text files are compressed once, at brotli quality 10 (gzip 9 for clients without
  brotli), and kept in memory, keyed by their digest: 16 % smaller than a page's quality 4;
  quality 11 would save 2 % more for four times the first request's wait.
- The sign-in pages prefetch what the staff pages load, while the clerk types: the first
  page after signing in finds them in the browser's cache.

``SLRT_COMPRESS`` off (the benchmark's comparison) leaves everything uncompressed.
"""

from __future__ import annotations

import gzip
import hashlib
import os

import brotli
from flask import Flask, Response, current_app, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_compress import Compress
from werkzeug.security import safe_join

#: A year: the longest lifetime browsers honour.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Types worth compressing; fonts (woff2 is compressed already), images, CSV and XLSX are not.
TEXT_TYPES = ["text/html", "text/css", "text/javascript", "application/javascript", "application/json",
              "text/plain", "image/svg+xml"]

#: What every staff page loads, in order, as (endpoint, file): Flask-Admin's base template less
#: what no screen uses (a second copy of Bootstrap's CSS under the "default" swatch's name, Font
#: Awesome's stylesheet and font: icons.css draws the few icons; Bootstrap 4.3's util.js and
#: dropdown.js, which 4.6's bootstrap.min.js already holds; the multi-level menu hack: our menus
#: have one level).
PAGE_FILES = {
    "styles": [("admin.static", "bootstrap/bootstrap4/css/bootstrap.min.css"),
               ("admin.static", "admin/css/bootstrap4/admin.css"),
               ("static", "icons.css"), ("static", "slrt.css")],
    "scripts": [("admin.static", "vendor/jquery.min.js"), ("admin.static", "bootstrap/bootstrap4/js/popper.min.js"),
                ("admin.static", "bootstrap/bootstrap4/js/bootstrap.min.js"), ("static", "admin.js")],
    # Flask-Admin's lists and forms (filters, date pickers, select boxes) need these too; a page of
    # our own that uses none of them sets ``plain_page`` and goes without.
    "forms": [("admin.static", "vendor/moment.min.js"), ("admin.static", "vendor/select2/select2.min.js"),
              ("admin.static", "admin/js/helpers.js")],
    # What Flask-Admin's list template adds (lib.html's form_css and form_js, list.html's tail):
    # only prefetched from here, at sign-in.
    "lists": [("admin.static", "vendor/select2/select2.css"),
              ("admin.static", "vendor/select2/select2-bootstrap4.css"),
              ("admin.static", "vendor/bootstrap-daterangepicker/daterangepicker-bs4.css"),
              ("admin.static", "vendor/bootstrap-daterangepicker/daterangepicker.js"),
              ("admin.static", "admin/js/form.js"), ("admin.static", "admin/js/bs4_modal.js"),
              ("admin.static", "admin/js/bs4_filters.js"), ("admin.static", "admin/js/actions.js")],
}

compress = Compress()


def init_assets(app: Flask) -> None:
    """Compress responses and version static files for ``app``."""
    app.config.update(
        COMPRESS_REGISTER=False,  # run from _send below, after the static files' own handling
        COMPRESS_MIMETYPES=TEXT_TYPES,
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_STREAMS=False,  # a streamed response (CSV export) goes as it is made
        COMPRESS_BR_LEVEL=4,  # fast enough per page; static files get 10 once, below
    )
    compress.init_app(app)
    app.extensions["slrt_static_files"] = StaticFiles()
    app.session_interface = PageSessions()
    app.url_defaults(_versioned)
    app.after_request(_send)
    app.jinja_env.globals["page_files"] = page_files


def page_files(*groups: str) -> list[str]:
    """The versioned addresses of the files in ``groups`` of :data:`PAGE_FILES`."""
    return [url_for(endpoint, filename=filename) for group in groups for endpoint, filename in PAGE_FILES[group]]


def _is_static(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint == "static" or endpoint.endswith(".static"))


def _versioned(endpoint: str, values: dict) -> None:
    """Add ``v=<digest>`` to every static file's address (replacing Flask-Admin's version numbers)."""
    if _is_static(endpoint) and "filename" in values:
        digest = current_app.extensions["slrt_static_files"].digest(endpoint, values["filename"])
        if digest:
            values["v"] = digest


def _send(response: Response) -> Response:
    if _is_static(request.endpoint):
        return current_app.extensions["slrt_static_files"].finish(response)
    if current_app.config["SLRT_COMPRESS"] and request.headers.get("Sec-Fetch-Site") != "cross-site":
        return compress.after_request(response)
    return response


class PageSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, saved with pages only: a static file is not the staff's activity."""

    def save_session(self, app: Flask, session, response: Response) -> None:
        if not _is_static(request.endpoint):
            super().save_session(app, session, response)


class StaticFiles:
    """Digests of static files (kept while the file is unchanged) and their compressed bodies."""

    def __init__(self) -> None:
        self._digests: dict[str, tuple[int, int, str]] = {}
        self._compressed: dict[tuple[str, str], bytes] = {}

    def path(self, endpoint: str, filename: str) -> str | None:
        """The file behind a static address, or None outside its folder."""
        if endpoint == "static":
            folder = current_app.static_folder
        else:
            blueprint = current_app.blueprints.get(endpoint.rsplit(".", 1)[0])
            folder = blueprint.static_folder if blueprint else None
        found = safe_join(folder, filename) if folder else None
        return found if found and os.path.isfile(found) else None

    def digest(self, endpoint: str, filename: str) -> str | None:
        """The first 16 hex digits of the file's SHA-256, or None for no such file."""
        path = self.path(endpoint, filename)
        if path is None:
            return None
        stat = os.stat(path)
        known = self._digests.get(path)
        if known and known[:2] == (stat.st_mtime_ns, stat.st_size):
            return known[2]
        with open(path, "rb") as file:
            digest = hashlib.sha256(file.read()).hexdigest()[:16]
        self._digests[path] = (stat.st_mtime_ns, stat.st_size, digest)
        return digest

    def finish(self, response: Response) -> Response:
        """Lifetime and compression of a static file's response."""
        filename = (request.view_args or {}).get("filename")
        digest = self.digest(request.endpoint, filename) if filename and response.status_code in (200, 304) else None
        if digest is None:
            return response
        versioned = request.args.get("v") == digest
        response.headers["Cache-Control"] = IMMUTABLE if versioned else "no-cache"
        response.headers.pop("Expires", None)
        if response.status_code != 200 or not current_app.config["SLRT_COMPRESS"] \
                or response.mimetype not in TEXT_TYPES:
            return response
        response.vary.add("Accept-Encoding")
        algorithm = _accepted(request.headers.get("Accept-Encoding", ""))
        if algorithm is None:
            return response
        body = self._compressed.get((digest, algorithm))
        if body is None:
            with open(self.path(request.endpoint, filename), "rb") as file:
                raw = file.read()
            body = brotli.compress(raw, quality=10) if algorithm == "br" else gzip.compress(raw, 9)
            self._compressed[(digest, algorithm)] = body
        response.direct_passthrough = False
        response.set_data(body)
        response.headers["Content-Encoding"] = algorithm
        response.headers.pop("Accept-Ranges", None)  # ranges would be of the uncompressed file
        response.set_etag(f"{digest}.{algorithm}")
        return response.make_conditional(request)


def _accepted(accept_encoding: str) -> str | None:
    """Brotli if the client takes it, else gzip, else None (``q=0`` refuses)."""
    taken = set()
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = params.strip().removeprefix("q=")
        try:
            refused = bool(params) and float(quality) == 0
        except ValueError:
            refused = False
        if not refused:
            taken.add(name.strip())
    return "br" if "br" in taken else "gzip" if "gzip" in taken else None
