"""Every screen, as every role, in Indonesian: no English words and no raw codes a person reads.

A crawler signs in as each role on the demo district and follows every link of the staff
screens from the dashboard (lists, filters, pages, the case page, slips, forms, exports), plus
the details page of one record per stored enum value, so every label of every vocabulary is
shown at least once. What a person reads is the page's text, its dropdown options, placeholders
and the list filters' choices; attributes, scripts and hidden inputs are not read (a value in
``<option value="pending">`` is the form's, not the reader's). Text marked with another
language (``lang="en"``: an SMS written to an English-speaking resident) is the resident's, not
the screen's.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine

from slrt import demo, followups, inbound, notices, outbox
from slrt.extensions import db
from slrt.models import Resident, SmsMessage, Staff, enums
from slrt.models.enums import FollowUpReason, Role, SmsStatus
from slrt.ports import GatewayError
from tests.test_demo import make_app
from tests.web import Browser

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BUILT_AT = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))

#: English, or a code where a word belongs, as seen on the screens before they were translated.
#: Matched as whole words, case-sensitively.
ENGLISH = [
    # Flask-Admin's own and generated labels
    "items", "item", "Save", "Cancel", "Create", "Edit", "Delete", "Details", "List", "Export", "Search",
    "Add Filter", "Apply", "Reset", "Previous", "Next", "Home", "Yes", "None", "True", "False",
    "Audience", "Encoding", "Gateway", "Provider Id", "Error Message", "Attempts", "Sent At", "Delivered At",
    "Created At", "Updated At", "Expected Status", "Dedupe Key", "Reply Key", "Next Attempt At", "Nik",
    "Kk Number", "Kk", "Members", "Household", "Village", "Address", "Phone", "Name", "Kind", "Level", "Body",
    "Language", "Key",
    # words of the English labels and of the provider's and the outbox's own messages
    "the", "and", "of", "with", "after", "receipt", "delivery", "unknown", "destination", "handset",
    "referral is", "resident answered", "Time", "Direction", "Notice", "Ticket", "Segments",
    "Error", "Text", "Failed", "Since", "Why", "Detail", "Resident", "Role", "Active", "Locked",
    "Authenticator", "Username", "Changed", "Flagged", "Domain", "Service", "Agency", "Due", "Sent",
    "Opened", "Assignee", "Urgency", "Channel", "Outcome",
    # the raw forms the issue lists
    "stale", "opted_out", "Peran: manager", "Bahasa: id", "Bahasa: en", "OUTBOUND", "INBOUND", "PENDING",
    "DROPPED", "MALE", "FEMALE", "OWN", "HEALTH_OFFICE", "DISTRICT",
]
#: Enum values that are Indonesian words as well (or read the same in Indonesian).
ALSO_INDONESIAN = {"status", "normal", "puskesos", "sms", "bpjs", "baznas", "id",
                   # social programmes' names (slrt.models.enums.Programme): the same in every language
                   "pkh", "bpnt", "pip", "blt"}


def _enum_values() -> set[str]:
    values = set()
    for obj in vars(enums).values():
        if isinstance(obj, type) and issubclass(obj, enum.Enum) and obj.__module__ == enums.__name__:
            values |= {str(m.value) for m in obj if isinstance(m.value, str)}
            values |= {m.name for m in obj}
    return {v for v in values if len(v) > 1 and v.lower() not in ALSO_INDONESIAN}


#: Enum values and names, and the notices' keys (``case_registered``, ``referral_completed.proxy``).
CODES = _enum_values() | set(notices.DEFAULTS)
_FORBIDDEN_WORDS = {w for w in set(ENGLISH) | CODES if " " not in w}
#: Phrases (several words) as whole words; single words are looked up token by token (much faster).
_FORBIDDEN_PHRASES = re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w-])"
                                         for w in sorted(set(ENGLISH) - _FORBIDDEN_WORDS, key=len, reverse=True)))
_FIELD = re.compile(r"\{\w+\}")
#: A word, a code (``in_progress``) or a notice key (``referral_made.proxy``).
_TOKEN = re.compile(r"[\w.]+")


class VisibleText(HTMLParser):
    """The text of a page a person reads: no scripts, styles, attributes or hidden inputs."""

    SKIP = {"script", "style", "template", "svg"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)

    @property
    def skipping(self) -> bool:
        return any(skipped for _tag, skipped in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        # lang="en": written to someone in English; lang="zxx": no language at all (a username)
        other_language = attrs.get("lang") not in (None, "id", "id-ID")
        hidden = "d-none" in (attrs.get("class") or "").split() and attrs.get("id") != "filter-groups-data"
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if not self.skipping and tag == "input" and attrs.get("type") not in ("hidden",):
            for name in ("placeholder",) + (("value",) if attrs.get("type") in ("submit", "button") else ()):
                if attrs.get(name):
                    self.parts.append(attrs[name])
        if not self.skipping and tag == "textarea" and attrs.get("placeholder"):
            self.parts.append(attrs["placeholder"])
        if tag not in self.VOID:
            self.stack.append((tag, tag in self.SKIP or other_language or hidden))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if self.skipping:
            return
        if self.stack and self.stack[-1][0] == "div" and data.lstrip().startswith("{"):
            return
        self.parts.append(data)


def _filter_choices(html: str) -> list[str]:
    """The list filters' names and choices, which the page's script shows from a JSON block."""
    match = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', html, re.S)
    if not match:
        return []
    words = []
    for group, filters in json.loads(match.group(1)).items():
        words.append(group)
        for flt in filters:
            words.append(flt.get("operation", ""))
            words += [str(label) for _value, label in flt.get("options") or []]
    return words


def visible_text(html: str) -> tuple[str, list[str]]:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts + _filter_choices(html)), parser.links


def offending(text: str) -> list[str]:
    """The English words and raw codes in ``text`` (a template's fields, ``{agency}``, are what managers type)."""
    text = " ".join(_FIELD.sub(" ", text).split())
    found = {m.group(0) for m in _FORBIDDEN_PHRASES.finditer(text)}
    for token in _TOKEN.findall(text):
        for word in (token, token.strip(".")):
            if word in _FORBIDDEN_WORDS:
                found.add(word)
    return sorted(found)


# ---- the demo district --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("crawl"), SLRT_SMS_DISPATCH=False)
    with app.app_context(), time_machine.travel(BUILT_AT, tick=False):
        demo.seed(residents=40, random_seed=2026)
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def _what_the_demo_lacks() -> None:
    """Rows in the states the demo's stories do not reach, through the domain: an SMS received and
    answered, one dropped as stale and one for an opted-out resident, one failed with a code no table
    names, a follow-up for a missing receipt, a manager's wording of a notice."""
    manager = db.session.scalar(sa.select(Staff).where(Staff.role == Role.MANAGER))
    notices.save_template(None, key="case_closed", language="en", body="{office}: ticket {ticket} is closed.",
                          actor=manager)
    resident = db.session.scalar(sa.select(Resident).where(Resident.phone.is_not(None)).order_by(Resident.id))
    inbound.receive(phone=resident.phone, body="CEK 12345-6", provider_id="in-crawl-1", gateway="android")
    pending = db.session.scalars(sa.select(SmsMessage).where(SmsMessage.status == SmsStatus.PENDING)
                                 .order_by(SmsMessage.id)).all()
    assert len(pending) >= 4, "the demo leaves a few notices waiting for the morning"
    claimed = outbox.claim_many([m.id for m in pending[:4]])
    outbox.hold(claimed[0], outbox.Hold("stale", detail="referral is accepted now"))
    outbox.hold(claimed[1], outbox.Hold("opted_out", detail="resident answered STOP"))
    outbox.record_failure(claimed[2].id, "twilio", GatewayError(code="39999", message="something new"))
    outbox.record_sent(claimed[3].id, "twilio", "SMcrawl", receipts=True)
    if claimed[3].case is not None:
        followups.open_for(claimed[3], FollowUpReason.NO_RECEIPT, "no delivery receipt after 24 h")
    db.session.flush()


def _sign_in(app, role: Role) -> Browser:
    browser = Browser(app)
    _role, username, password = next(login for login in demo.logins() if login[0] == role.value)[:3]
    with app.app_context():
        security = app.extensions["security"]
        if role == Role.MANAGER:
            secret = security.totp_factory.generate_totp_secret()
            user = db.session.scalar(sa.select(Staff).where(Staff.username == username))
            security.datastore.tf_set(user, "authenticator", totp_secret=secret)
            db.session.commit()
            code = security.totp_factory.generate_totp_password(secret)
        else:
            code = None
    browser.login(username, password, code=code)
    assert browser.get("/admin/").status_code == 200, f"{role} could not sign in"
    return browser


def _enum_rows(app) -> list[str]:
    """Details pages showing each stored enum value at least once (one record per value and column)."""
    admin = app.extensions["admin"][0]
    urls = []
    with app.app_context():
        for view in admin._views:
            model = getattr(view, "model", None)
            if model is None:
                continue
            key = model.__mapper__.primary_key[0]
            for column in model.__table__.columns:
                if isinstance(column.type, sa.Enum):
                    for (ident,) in db.session.execute(sa.select(sa.func.min(key)).group_by(column)):
                        urls.append(f"/admin/{view.endpoint}/details/?id={ident}")
                        urls.append(f"/admin/{view.endpoint}/edit/?id={ident}")
    return urls


#: Query arguments that only reorder, re-page or say where to return: the same screen.
_SAME_SCREEN = {"sort", "desc", "page", "page_size", "url", "search"}
#: Distinct pages read per shape of address (path and argument names): ids differ, screens do not.
PER_SHAPE = 3


def _normalized(url: str) -> str:
    parts = urlsplit(url)
    args = [(k, v) for k, v in parse_qsl(parts.query) if k not in _SAME_SCREEN]
    return parts.path + (f"?{urlencode(args)}" if args else "")


def _shape(url: str) -> tuple:
    parts = urlsplit(url)
    path = re.sub(r"/\d+(?=/|$)", "/<id>", parts.path)
    return path, tuple(sorted(k for k, _v in parse_qsl(parts.query) if k != "id"))


def _wanted(url: str) -> bool:
    parts = urlsplit(url)
    return (not parts.netloc and parts.path.startswith("/admin") and "/delete" not in parts.path
            and "lang=" not in parts.query and "/action" not in parts.path)


def crawl(app, role: Role) -> tuple[dict[str, list[str]], Counter]:
    """Visit every staff screen reachable from the dashboard as ``role``; the words found per page,
    and how many pages of each kind were read."""
    browser = _sign_in(app, role)
    chosen = set(_enum_rows(app))  # read whatever the cap per shape says
    queue = ["/admin/", "/admin/intake/", "/admin/report.csv", "/admin/report.xlsx", *sorted(chosen)]
    seen, per_shape, found, read = set(), defaultdict(int), {}, Counter()
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        shape = _shape(url)
        if url not in chosen:
            if per_shape[shape] >= PER_SHAPE:
                continue
            per_shape[shape] += 1
        response = browser.get(url)
        assert response.status_code != 500, f"{role} {url}: 500"
        if response.status_code != 200:
            continue
        kind = response.mimetype
        links = []
        if kind == "text/csv":
            body = response.get_data(as_text=True).lstrip("\ufeff")
            delimiter = ";" if body.count(";") > body.count(",") else ","
            text = "\n".join(" ".join(row) for row in csv.reader(io.StringIO(body), delimiter=delimiter))
        elif kind == XLSX:
            book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
            text = "\n".join(" ".join(str(cell) for cell in row if cell is not None)
                             for sheet in book for row in sheet.iter_rows(values_only=True))
        elif kind == "text/html":
            text, links = visible_text(response.get_data(as_text=True))
        else:
            continue
        read[kind] += 1
        bad = offending(text)
        if bad:
            found[url] = bad
        for link in links:
            absolute = urljoin(url, link)
            parts = urlsplit(absolute)
            target = _normalized(parts.path + (f"?{parts.query}" if parts.query else ""))
            if _wanted(target) and target not in seen:
                queue.append(target)
    return found, read


@pytest.mark.parametrize("role", list(Role))
def test_every_screen_reads_in_indonesian(demo_app, role):
    with time_machine.travel(BUILT_AT, tick=False):  # the demo's today: its due dates and quiet hours
        found, read = crawl(demo_app, role)
    assert read["text/html"] > 60 and read[XLSX] >= 1 and read["text/csv"] >= 1, read  # the crawl got around
    assert found == {}, "\n".join(f"{url}: {words}" for url, words in sorted(found.items()))


def test_the_checker_sees_what_a_person_reads():
    text, _links = visible_text(
        '<p>Status <span class="badge">PENDING</span></p><select><option value="pending">menunggu</option>'
        '</select><input type="hidden" name="status" value="dropped"><script>var x = "stale";</script>'
        '<div lang="en">your request is registered</div><input placeholder="Search">')
    assert offending(text) == ["PENDING", "Search"]
    assert offending("✉ SMS case_registered · pending") == ["case_registered", "pending"]
    assert offending("Notice: referral_completed.proxy. Sent At 07:00") == ["Notice", "Sent", "Sent At",
                                                                             "referral_completed.proxy"]
    assert offending("Peran: manager") == ["Peran: manager", "manager"]
    assert offending("Bahasa:\n  en") == ["Bahasa: en", "en"]
    assert offending("Status SMS: menunggu dikirim. Nomor KK 3316 · in_progress") == ["in_progress"]


def test_every_vocabulary_has_words_for_every_member(app):
    """A new enum (or member) without Indonesian words fails here, before any screen shows its code."""
    vocabularies = [obj for obj in vars(enums).values() if isinstance(obj, type) and issubclass(obj, enum.Enum)
                    and obj.__module__ == enums.__name__]
    assert len(vocabularies) > 20
    with app.test_request_context():
        for vocabulary in vocabularies:
            assert issubclass(vocabulary, enums.Labelled), f"{vocabulary.__name__}: no labels"
            for member in vocabulary:
                words = str(member.label)
                assert words and words != str(member.value), f"{member!r} shows its code"
