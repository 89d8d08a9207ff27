"""Error pages a person understands; hostile or mistaken input answers 400 or 404, never 500.

- A NUL character in a query string or form is refused (400) before anything reads it:
  PostgreSQL can neither store nor compare text holding one, and no person types it.
- 400 (a CSRF failure with its own words), 403, 404, 405, 500 and 503 say in the reader's
  language what happened and the way back: the dashboard, the list of the screen the address
  belongs to, the previous page of this site. Signed in, the page sits in the staff layout
  with its menu; otherwise it is a plain page with the office's name and the way to sign in.
  A 404 says the same whether the record does not exist or belongs to another unit.
- A 500 shows a reference that is also logged beside the traceback (which only the log holds).
- The webhooks' callers are machines and get the plain answer.
- Last resort: a database DataError (a value the database refuses: too long, out of range)
  answers 400 and is logged as a warning. Each input is checked before it reaches the
  database (slrt.text, slrt.models.base.row_id, the views' filters); tests/test_hostile.py
  fails when this handler fires.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, render_template, request, url_for
from flask_admin.contrib.sqla import ModelView
from flask_babel import lazy_gettext as _l
from flask_security import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import BuildError

from slrt.extensions import db

log = logging.getLogger(__name__)

#: What each answer says: its title and what happened, with what to do next.
PAGES = {
    400: (_l("The request cannot be read"),
          _l("Something in the address or the form cannot be used (a number too large, an unknown value, "
             "a character that cannot be stored). Nothing was saved. Go back and check what was entered.")),
    "csrf": (_l("The form was not accepted"),
             _l("The form has expired (for example, the session ended) or was not sent from this site's page, "
                "so nothing was saved. Open the page again and send the form once more.")),
    403: (_l("Not allowed"),
          _l("Your account may not open this page or do this action. If your work needs it, ask a manager "
             "of your unit.")),
    404: (_l("Page not found"),
          _l("The page or record you asked for was not found or is not in your unit's area.")),
    405: (_l("This address cannot be opened this way"),
          _l("This address belongs to a button on a form and is not opened directly. Nothing was changed. "
             "Go back to the page and use its button.")),
    500: (_l("Something went wrong"),
          _l("The system could not finish this request and the error has been recorded. What was sent may not "
             "have been saved: open the record again to check before sending it again. If it happens again, "
             "give the IT operator the reference below.")),
    503: (_l("The system is busy"),
          _l("The system is busy and nothing was saved. Please go back and send the form again.")),
}


def init_errors(app: Flask) -> None:
    """Register the NUL check (call first: before anything reads the request) and the error pages."""
    app.before_request(refuse_nul)
    for code in (400, 403, 404, 405, 500):
        app.register_error_handler(code, error_page)
    app.register_error_handler(DataError, database_refused)


def refuse_nul() -> None:
    """400 for a NUL character in any name or value of the query string or the form."""
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400)


def error_page(error: HTTPException):
    if request.blueprint == "sms_webhooks":
        return error  # a provider's webhook: the plain answer
    reference = None
    if error.code == 500:
        try:
            db.session.rollback()  # the failed request's work; the page may read the signed-in account
        except Exception:  # a connection that is gone: the page is drawn without it
            log.exception("rollback after a 500 failed")
        reference = secrets.token_hex(4)
        log.error("error page 500 shown, reference %s", reference, extra={"path": request.path})
    return render_error(error.code, "csrf" if isinstance(error, CSRFError) else error.code, reference=reference)


def database_refused(error: DataError):
    """The last resort: a value the database refused answers 400; nothing was saved."""
    db.session.rollback()
    # The statement and its parameters stay out of the log (they may hold personal data).
    log.warning("hostile input reached the database: %s", type(error.orig).__name__,
                extra={"path": request.path})
    return error_page(BadRequest())


def render_error(status: int, page: int | str | None = None, reference: str | None = None):
    """The error page for ``status`` (words from ``PAGES[page]``, default the status), as a response."""
    title, message = PAGES[page or status]
    try:
        signed_in = bool(current_user.is_authenticated)
        words = dict(title=title, message=message, code=status, reference=reference, ways=_ways_back(signed_in))
        if signed_in:
            body = _staff_view().render("admin/error.html", **words)
        else:
            body = render_template("error.html", **words)
    except Exception:  # the page must not fail in turn (a database that is down): the bare words
        log.exception("the error page itself failed", extra={"path": request.path})
        body = (f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(message)}</p>"
                + (f"<p>{escape(reference)}</p>" if reference else "") + '<p><a href="/admin/">SLRT</a></p>')
    return body, status


def _admin():
    admins = current_app.extensions.get("admin") or []
    return admins[0]


def _owning_view():
    """The Flask-Admin screen the address belongs to (by endpoint, else by the longest address prefix),
    other than the dashboard; None when there is none."""
    admin = _admin()
    views = [view for view in admin._views if view is not admin.index_view and view.url]
    for view in views:
        if request.blueprint and request.blueprint == view.endpoint:
            return view
    path = request.path.rstrip("/")
    prefixed = [view for view in views if path == view.url.rstrip("/") or path.startswith(view.url.rstrip("/") + "/")]
    return max(prefixed, key=lambda view: len(view.url), default=None)


def _staff_view():
    """The view whose menu entry the page highlights: the screen the address belongs to, or the dashboard."""
    view = _owning_view()
    return view if view is not None and view.is_accessible() else _admin().index_view


def _ways_back(signed_in: bool) -> list[tuple[str, str]]:
    """(label, URL) links back: the dashboard, the screen's list, the previous page of this site.

    Signed out, the only way back is the sign-in page."""
    if not signed_in:
        return [(str(_l("Sign in")), url_for("security.login"))]
    ways = [(str(_l("Back to the dashboard")), url_for("admin.index"))]
    here = request.full_path.rstrip("?")
    view = _owning_view()
    if view is not None and view.is_accessible():
        try:
            if isinstance(view, ModelView):
                ways.append((str(_l("Back to the list: %(name)s", name=view.name)),
                             url_for(f"{view.endpoint}.index_view")))
            else:
                ways.append((str(_l("Back to %(name)s", name=view.name)), url_for(f"{view.endpoint}.index")))
        except BuildError:  # a screen without a page of its own: the dashboard is the way back
            pass
    # Not the very address that just failed (the list without its bad arguments is a way back).
    ways = [(label, url) for label, url in ways if url != here]
    previous = _same_origin_referrer()
    if previous and previous != here and previous not in {url for _label, url in ways}:
        ways.append((str(_l("Back to the previous page")), previous))
    return ways


def _same_origin_referrer() -> str | None:
    """The Referer as a path on this site (never another site's address), or None."""
    referrer = request.headers.get("Referer", "")
    if not referrer or len(referrer) > 2000:
        return None
    try:
        parts = urlsplit(referrer)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.netloc != request.host or not parts.path.startswith("/"):
        return None
    if parts.path.startswith("//") or "\\" in parts.path:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
