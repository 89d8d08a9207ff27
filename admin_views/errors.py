"""Hostile or mistaken input answers 400 or 404 with a page in the reader's language, never 500.

- A NUL character in a query string or form is refused (400) before anything reads it:
  PostgreSQL can neither store nor compare text holding one, and no person types it.
- 400 and 404 get a short page in Bahasa Indonesia (or English); the webhooks' callers are
  machines and get the plain answer.
- Last resort: a database DataError (a value the database refuses: too long, out of range)
  answers 400 and is logged as a warning. Each input is checked before it reaches the
  database (slrt.text, slrt.models.base.row_id, the views' filters); tests/test_hostile.py
  fails when this handler fires.
"""

from __future__ import annotations

import logging

from flask import Flask, abort, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest, HTTPException

from slrt.extensions import db

log = logging.getLogger(__name__)

PAGES = {
    400: (_l("The request cannot be read"),
          _l("Something in the address or the form cannot be used (a number too large, an unknown value, "
             "a character that cannot be stored). Go back and check what was entered.")),
    404: (_l("Page not found"),
          _l("This page, or the record it asks for, does not exist or is not one you may see.")),
}


def init_errors(app: Flask) -> None:
    """Register the NUL check (call first: before anything reads the request) and the error pages."""
    app.before_request(refuse_nul)
    for code in PAGES:
        app.register_error_handler(code, error_page)
    app.register_error_handler(DataError, database_refused)


def refuse_nul() -> None:
    """400 for a NUL character in any name or value of the query string or the form."""
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400)


def error_page(error: HTTPException):
    if request.blueprint == "sms_webhooks" or error.code not in PAGES:
        return error  # a provider's webhook: the plain answer
    title, message = PAGES[error.code]
    return render_template("error.html", title=title, message=message, code=error.code), error.code


def database_refused(error: DataError):
    """The last resort: a value the database refused answers 400; nothing was saved."""
    db.session.rollback()
    # The statement and its parameters stay out of the log (they may hold personal data).
    log.warning("hostile input reached the database: %s", type(error.orig).__name__,
                extra={"path": request.path})
    return error_page(BadRequest())
