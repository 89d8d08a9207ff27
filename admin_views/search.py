"""List search that keeps what was typed out of URLs, browser histories and access logs.

A list's search box posts (with its CSRF token) to ``<list>/search/``, which keeps the
term in the signed-in session, encrypted with the PII key, under a random token, and
redirects to the list with ``?search=<token>``. Pager, sort, filter and export links carry
the token; the list looks the term up again and searches it as before (a NIK or KK by its
keyed hash). A token means nothing in another session and ends with the session or after
the session lifetime. A NIK, KK or phone number typed straight into a list's address is
not searched: the list asks for the search box instead.
"""

from __future__ import annotations

import secrets
import unicodedata

from flask import abort, current_app, flash, redirect, request, session
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import false

from slrt import clock
from slrt.pii import vault

#: Marks a search token in a URL (what follows is random, not the term).
PREFIX = "~"
#: Where the session keeps the tokens: {token: [encrypted term, expiry (epoch seconds)]}.
SESSION_KEY = "slrt_searches"
#: Searches kept per session (the oldest goes first): several tabs, back and forward.
KEPT = 6
#: Longer search texts are refused (no name, number or code is this long).
MAX_LENGTH = 100
#: A plain search with this many digits holds an identifier: NIK, KK (16) or a phone number (9+).
IDENTIFIER_DIGITS = 9


def is_token(search: str | None) -> bool:
    return bool(search) and search.startswith(PREFIX)


def carries_identifier(text: str) -> bool:
    return sum(ch.isdigit() for ch in text) >= IDENTIFIER_DIGITS


def usable(term: str) -> bool:
    """A search text we may keep: short, with no NUL or other control character."""
    return len(term) <= MAX_LENGTH and not any(unicodedata.category(ch) == "Cc" for ch in term)


def remember(term: str) -> str:
    """Keep ``term`` in this session and return the token that stands for it in URLs."""
    now = clock.now().timestamp()
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    kept = {token: entry for token, entry in session.get(SESSION_KEY, {}).items() if entry[1] > now}
    token = PREFIX + secrets.token_urlsafe(12)
    kept[token] = [vault.encrypt(term), now + lifetime]
    session[SESSION_KEY] = dict(sorted(kept.items(), key=lambda item: item[1][1])[-KEPT:])
    return token


def recall(token: str) -> str | None:
    """The term a token of this session stands for; None if unknown here or expired."""
    entry = session.get(SESSION_KEY, {}).get(token)
    if not entry or entry[1] <= clock.now().timestamp():
        return None
    try:
        return vault.decrypt(entry[0])
    except RuntimeError:  # kept under another PII key
        return None


def term_of(search: str | None) -> str | None:
    """What a list searches for the ``search`` of its URL: a token's term, a plain term
    without identifiers, or None (nothing may be searched: no row matches)."""
    if not search:
        return ""
    if is_token(search):
        return recall(search)
    return None if carries_identifier(search) or not usable(search) else search


def _list_state(values, drop: tuple[str, ...]) -> dict[str, list[str]]:
    """A list's arguments (filters, sort, page size, extra ones) less ``drop``; url_for's own
    options (_external, _scheme, ...) are no list state and are never passed on."""
    return {key: items for key, items in values.to_dict(flat=False).items()
            if key not in drop and not key.startswith("_")}


class TokenSearchMixin:
    """For Flask-Admin model views: the search box posts; the URL carries a token."""

    @expose("/search/", methods=["POST"])
    def search_view(self):
        if not self._search_supported:
            abort(404)
        term = (request.form.get("search") or "").strip()
        # The list as the form carried it; a new search starts on the first page.
        args = _list_state(request.form, drop=("csrf_token", "search", "page"))
        if term and not usable(term):
            flash(_l("The search cannot be used: type at most %(count)s characters, letters and digits.",
                     count=MAX_LENGTH), "error")
        elif term:
            args["search"] = remember(term)
        return redirect(self.get_url(".index_view", **args))

    @expose("/")
    def index_view(self):
        search = request.args.get("search")
        if search and term_of(search) is None:
            if is_token(search):
                flash(_l("This search has expired: type it into the search box again."), "warning")
            elif carries_identifier(search):
                flash(_l("Type NIK, KK and phone numbers into the search box: they are not kept in addresses."),
                      "warning")
            else:
                flash(_l("The search cannot be used: type at most %(count)s characters, letters and digits.",
                         count=MAX_LENGTH), "error")
            return redirect(self.get_url(".index_view", **_list_state(request.args, drop=("search", "page"))))
        return super().index_view()

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        term = term_of(search)
        if term is None:  # an export or another caller with a search that may not be run: no row
            count = None if self.simple_list_pager else 0
            return count, ([] if execute else self.get_query().filter(false()))
        return super().get_list(page, sort_column, sort_desc, term, filters, execute=execute, page_size=page_size)

    def search_text(self, search: str | None) -> str:
        """What the search box shows: the term typed, never the token."""
        return (term_of(search) or "") if search else ""
