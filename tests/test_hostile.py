"""No request answers 500: every registered URL with hostile parameters, as each role and signed out.

The URLs and parameters are not listed here. They come from the app itself: every rule of
``app.url_map`` (at the paths its pages link to, then with each path argument made
hostile), the parameters each Flask-Admin view declares (list arguments, filters, form
fields, actions, ajax lookups) and the forms and links of every page a manager reaches. A
view added later is walked without editing this test.

Each target gets one request per hostile value with every parameter set to it (GET query
strings; POST forms with a valid CSRF token). A GET page that answers those with anything
but its page (a parameter sent it elsewhere first) is tried again with the parameters
split in halves, down to the one that did, so every parameter is read. Each field of a form
a page shows is made hostile in turn, the others as the page would send them.

Besides "no 5xx": no error is logged (Flask-Admin catches a failed save and logs it), no
cookie grows past what browsers keep (a flashed message echoing a 10,000-character value
would end the session), and the last-resort answer to a database DataError
(admin_views/errors.py) never fires: a hostile value is refused before the database sees it.

The walk runs on an app and database of its own, committing as in production: thousands of
requests inside the suite's rolled-back transaction exhaust PostgreSQL's lock table. Signed
out and the manager get every value; the four other roles, who see the same screens narrowed
to their units, share the values between them (so the walk stays well under a minute).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import pytest
from sqlalchemy import event, select

from admin_views.base import SecureModelView
from fakes.android import FakeAndroidPhone
from fakes.builders import make_case, make_nik, make_referral
from slrt import followups, referrals
from slrt.models import SmsMessage, SmsTemplate
from slrt.models.enums import FollowUpReason, Role
from slrt.residents import register_household
from tests.test_admin_matrix import signed_in
from tests.test_delivery import signed  # noqa: F401  (a fixture: Twilio-signed webhooks)
from tests.web import Browser

#: Text and control characters first: a plain value ("bogus") may make a move succeed
#: and change what the later requests find.
HOSTILE = [
    "9" * 10_000,                      # 10,000 characters, and more digits than int() reads
    "x\x00y",                          # NUL: PostgreSQL can neither store nor compare it
    "a\x1b[2Jb\x7f",                   # other control characters
    "99999999999999999999999",         # beyond every integer column
    "-1",
    "\u0661\u0662\u0663\u0664\u0665",  # Arabic-Indic digits: str.isdigit() and int() take them
    "bogus",                           # no enum value, sort column, action or filter value
]
#: Tried in each field of the forms pages show, one field at a time.
FOCUSED = ["9" * 10_000, "a\x1b[2Jb\x7f", "99999999999999999999999", "bogus"]
#: Acceptable values for the text fields a form shows empty, so that the one hostile field is
#: what the request is refused for (field names, not views: a new form with these names gets them).
SAMPLES = {
    "nik": make_nik("F", date(1980, 5, 17), "331601"), "birth_date": "1980-05-17", "sex": "F",
    "name": "Sri Wahyuni", "full_name": "Sri Wahyuni", "address": "RT 01 RW 02", "phone": "081234567899",
    "summary": "Kartu KIS tidak aktif", "note": "sudah ditelepon", "username": "petugas.baru",
    "password": "rahasia-demo-1", "short_name": "Dinas", "code": "kode_baru", "sms_name": "surat",
    "body": "{office}: tiket {ticket} ditutup.",
}
#: Forms of different fields posting to one URL walked (intake: find, then register; not the search
#: form of every list page variant).
FORM_SHAPES = 2
#: The largest cookie browsers keep (RFC 6265 asks at least 4096 bytes of them, name and attributes included).
MAX_COOKIE = 4093
#: Parameters every URL is tried with, besides what its view declares and its pages send.
GENERIC = {"id", "page", "url", "next", "lang"}


def _last(endpoint: str) -> bool:
    """Sign-in, second factor, sign-out: walked last, as they may end the session (that is their job)."""
    return endpoint.startswith("security.")


@dataclass
class Target:
    method: str
    path: str
    endpoint: str
    #: Parameters kept valid (an action's name, a lookup's name) so that the hostile ones reach further.
    fixed: dict = field(default_factory=dict)
    names: set = field(default_factory=set)
    #: What the page's form sends (harvested forms): each field is made hostile in turn.
    values: dict = field(default_factory=dict)
    #: The hostile value in the path, if any: then one request, its parameters set to the same.
    hostile_path: str | None = None

    def key(self):
        """Two forms posting to one URL (intake: find, then register) stay two targets."""
        return self.method, self.path, tuple(sorted(self.fixed.items())), tuple(sorted(self.values))


def _show(value: str) -> str:
    return repr(value) if len(value) <= 25 else f"{value[:8]!r}...({len(value)} characters)"


# ---- what there is to walk -------------------------------------------------------------------

class _Page(HTMLParser):
    """The forms (action, method, each field with the value it sends) and the links of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form":
            self._form = {"action": attrs.get("action") or "", "method": (attrs.get("method") or "get").upper(),
                          "values": {}}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._form["values"].setdefault(self._select, "")
        elif tag == "option" and self._select:
            values = self._form["values"]
            if not values[self._select] or "selected" in attrs:
                values[self._select] = attrs.get("value", "")
        elif tag in ("input", "textarea", "button") and attrs.get("name"):
            values = self._form["values"]
            unchecked = attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs
            if not (unchecked and attrs["name"] in values):
                values[attrs["name"]] = attrs.get("value") or values.get(attrs["name"]) or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _match(app, method: str, path: str) -> tuple[str, dict] | None:
    try:
        return app.url_map.bind("localhost").match(path, method=method)
    except Exception:  # noqa: BLE001  (not a route: 404, 405, a redirect)
        return None


def _harvest(app, browser: Browser) -> list[Target]:
    """The forms and links of every page a manager reaches from the app's GET rules (each shape once)."""
    queue = [rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and not rule.arguments]
    targets, seen, forms = [], set(), {}
    while queue and len(seen) < 300:
        url = queue.pop(0)
        parts = urlsplit(url)
        matched = _match(app, "GET", parts.path)
        if parts.netloc not in ("", "localhost") or matched is None or _last(matched[0]):
            continue
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        shape = (parts.path if matched[1] else matched[0], frozenset(query))
        if shape in seen:
            continue
        seen.add(shape)
        targets.append(Target("GET", parts.path, matched[0], names=set(query)))
        response = browser.get(url)
        if response.status_code != 200 or "html" not in response.content_type:
            continue
        page = _Page()
        page.feed(response.get_data(as_text=True))
        for form in page.forms:
            action = urlsplit(urljoin(url, form["action"] or url))
            found = _match(app, form["method"], action.path)
            values = {k: v for k, v in form["values"].items() if k != "csrf_token"}
            if found is None or _last(found[0]):
                continue
            shapes = forms.setdefault((form["method"], action.path), set())
            if len(shapes) < FORM_SHAPES or frozenset(values) in shapes:  # the list's search form on every list page
                shapes.add(frozenset(values))
                targets.append(Target(form["method"], action.path, found[0], names=set(values),
                                      values=values if form["method"] == "POST" else {}))
        queue += [urljoin(url, href) for href in page.links]
    return targets


def _field_names(form_class) -> set[str]:
    return {f.name for f in form_class() if f.name != "csrf_token"}


def _declared(app) -> list[Target]:
    """What each Flask-Admin model view declares: list arguments, filters, forms, actions, lookups."""
    targets = []
    with app.test_request_context():
        for admin in app.extensions["admin"]:
            for view in admin._views:
                if not isinstance(view, SecureModelView):
                    continue
                base, endpoint = f"/admin/{view.endpoint}", view.endpoint
                listing = {"page", "page_size", "sort", "desc", "search"}
                listing |= {f"flt0_{key}" for key in (view._filter_args or {})}
                targets.append(Target("GET", f"{base}/", f"{endpoint}.index_view", names=listing))
                targets += [Target("GET", f"{base}/export/{kind}/", f"{endpoint}.export", names=listing)
                            for kind in view.export_types]
                targets.append(Target("POST", f"{base}/new/", f"{endpoint}.create_view",
                                      names=_field_names(view.get_create_form())))
                targets.append(Target("POST", f"{base}/edit/", f"{endpoint}.edit_view",
                                      names=_field_names(view.get_edit_form()) | {"id"}))
                targets += [Target("POST", f"{base}/action/", f"{endpoint}.action_view", fixed={"action": name},
                                   names={"rowid"}) for name, _text in view._actions]
                targets += [Target("GET", f"{base}/ajax/lookup/", f"{endpoint}.ajax_lookup", fixed={"name": name},
                                   names={"query", "offset", "limit"}) for name in view._form_ajax_refs]
    return targets


_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _from_rules(app, known: list[Target]) -> list[Target]:
    """Every rule of the app: at a path seen (or its own), and with each path argument made hostile."""
    targets = []
    for rule in app.url_map.iter_rules():
        seen = [t.path for t in known if t.endpoint == rule.endpoint]
        real = seen[0] if seen else None if rule.arguments else rule.rule
        arguments = _match(app, sorted(rule.methods)[0], real)[1] if real else {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if real:
                targets.append(Target(method, real, rule.endpoint))
            for name in rule.arguments:
                for value in HOSTILE:
                    given = {k: str(v) for k, v in arguments.items()} | {name: value}
                    path = _ARGUMENT.sub(lambda m, given=given: quote(given.get(m[1], "1"), safe=""), rule.rule)
                    targets.append(Target(method, path, rule.endpoint, hostile_path=value))
    return targets


def _targets(app, manager: Browser) -> list[Target]:
    """Everything to walk, each parameter a page sends tried at every path of its endpoint."""
    harvested = _harvest(app, manager)
    declared = _declared(app)
    merged: dict = {}
    for target in harvested + declared + _from_rules(app, harvested + declared):
        found = merged.setdefault(target.key(), Target(target.method, target.path, target.endpoint,
                                                       dict(target.fixed), hostile_path=target.hostile_path))
        found.names |= target.names
        found.values = {**target.values, **found.values}
    names: dict[str, set] = {}
    for target in merged.values():
        names.setdefault(target.endpoint, set()).update(target.names)
    for target in merged.values():
        target.names = (target.names | names[target.endpoint] | GENERIC) - set(target.fixed)
    return sorted(merged.values(), key=lambda t: (_last(t.endpoint), t.endpoint, t.method, t.path))


# ---- the walk --------------------------------------------------------------------------------

@pytest.fixture
def walked(tmp_path, pipeline_database, frozen):
    """An app on a database of its own, committing as in production (thousands of requests in the
    shared test transaction would exhaust PostgreSQL's lock table), and a world to walk in it: a
    referral waiting, a resolved case, a follow-up to do, a household, a template, a new case."""
    from flask_migrate import upgrade

    from app import create_app
    from fakes.builders import make_district
    from slrt.extensions import db
    from slrt.pii import new_key

    app = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret", "SLRT_PII_KEY": new_key(),
        "SQLALCHEMY_DATABASE_URI": pipeline_database or f"sqlite:///{tmp_path / 'hostile.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        "SLRT_SMS_DISPATCH": False, "SLRT_PASSWORD_HASH": "plaintext",
    })
    app.instance_path = str(tmp_path)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":  # no disk flush per commit: the file is thrown away
            event.listen(db.engine, "connect", lambda connection, _record: connection.execute("PRAGMA synchronous=OFF"))
            db.engine.dispose()
        upgrade()
        district = make_district()
        waiting = make_referral(district)
        done = make_referral(district)
        referrals.complete(done, actor=district.user(Role.BACK_OFFICE), note="selesai")
        message = db.session.scalar(select(SmsMessage).where(SmsMessage.case_id == waiting.case_id))
        followups.open_for(message, FollowUpReason.SMS_FAILED, "30005 unknown handset")
        register_household(kk_number="3316012005100007", address="Dk. Krajan", village=district.villages[0],
                           actor=district.user(Role.FRONT_OFFICE))
        db.session.add(SmsTemplate(key="case_closed", language="id", body="{office}: tiket {ticket} ditutup."))
        make_case(district)
        db.session.commit()
        try:
            yield app, district
        finally:
            db.session.remove()
            db.engine.dispose()


class _Errors(logging.Handler):
    """Errors logged while walking, and the last-resort DataError answer (admin_views/errors.py)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record):
        if record.levelno >= logging.ERROR or "reached the database" in record.getMessage():
            where = getattr(record, "path", "") or ""
            self.records.append(f"{record.name}: {where} {' '.join(record.getMessage().split())[:200]}")


class _Walker:
    def __init__(self, browser: Browser, hostile: list[str] = HOSTILE, focused: list[str] = FOCUSED) -> None:
        self.browser, self.hostile, self.focused = browser, hostile, focused
        self.problems: list[str] = []
        #: Per target, the parameters that sent a page elsewhere (each then goes alone).
        self.blockers: dict[tuple, set] = {}
        self.refusals: dict[tuple, bool] = {}

    def send(self, target: Target, params: dict):
        params = {**params, **target.fixed}
        if target.method == "GET":
            return self.browser.get(target.path, query_string=params)
        return self.browser.post(target.path, {**params, "csrf_token": self.browser.token}, token=False)

    def probe(self, target: Target, params: dict):
        """Send: the response, or what went wrong (an exception, a 5xx)."""
        try:
            response = self.send(target, params)
        except Exception as error:  # noqa: BLE001  (collected: every failure in one report)
            return None, f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"
        not_ready = target.path == "/readyz" and response.status_code == 503 and response.is_json  # its answer
        if response.status_code >= 500 and not not_ready:
            return None, f"HTTP {response.status_code}"
        cookie = max(map(len, response.headers.getlist("Set-Cookie")), default=0)
        if cookie > MAX_COOKIE:
            return None, f"a {cookie}-byte cookie: browsers drop it, and the session with it"
        return response, None

    def check(self, target: Target, params: dict, label: str):
        response, failure = self.probe(target, params)
        if failure:
            self.problems.append(f"{target.method} {target.path} {label}: {failure}")
        return response

    def every_parameter(self, target: Target, value: str, names: list[str], plain_status: int) -> bool:
        """All ``names`` set to ``value``; a failure, or a page that went elsewhere, is tried again with
        halves of them (to name the parameter; to read the others). True when a failure was noted."""
        response, failure = self.probe(target, dict.fromkeys(names, value))
        went_elsewhere = response is not None and response.status_code != plain_status == 200 and \
            target.method == "GET"
        if went_elsewhere and len(names) == 1:
            self.blockers.setdefault(target.key(), set()).add(names[0])
        if went_elsewhere and len(names) > 1 and self.refused_anywhere(target, value, plain_status):
            went_elsewhere = False  # the value itself is refused (NUL): no parameter is read, none is missed
        noted = False
        if len(names) > 1 and (failure or went_elsewhere):
            for half in (names[: len(names) // 2], names[len(names) // 2:]):
                noted = self.every_parameter(target, value, half, plain_status) or noted
        if failure and not noted:
            label = ",".join(names) if len(names) < 4 else f"{len(names)} parameters together"
            self.problems.append(f"{target.method} {target.path} {label}={_show(value)}: {failure}")
            noted = True
        return noted

    def refused_anywhere(self, target: Target, value: str, plain_status: int) -> bool:
        """Whether ``value`` sends the page elsewhere even in a parameter nothing reads."""
        key = (target.key(), value)
        if key not in self.refusals:
            response, _failure = self.probe(target, {"unread_parameter": value})
            self.refusals[key] = response is not None and response.status_code != plain_status
        return self.refusals[key]

    def walk(self, target: Target) -> None:
        names = sorted(target.names)
        if target.hostile_path is not None:
            self.check(target, dict.fromkeys(names, target.hostile_path), f"path {_show(target.hostile_path)}")
            return
        plain = self.check(target, {}, "no parameters")
        if plain is None or _closed(plain):
            # Not for this visitor (signed out, the role, no such record): refused whatever it is sent.
            for value in HOSTILE[:4]:
                self.check(target, dict.fromkeys(names, value), f"{len(names)} parameters={_show(value)}")
            return
        for value in self.hostile:
            # A parameter that sent the page elsewhere for one value goes alone from then on.
            blockers = sorted(self.blockers.get(target.key(), ()))
            self.every_parameter(target, value, [n for n in names if n not in blockers], plain.status_code)
            for name in blockers:
                self.every_parameter(target, value, [name], plain.status_code)
        valid = {name: value or SAMPLES.get(name, "") for name, value in target.values.items()}
        for name in sorted(target.values):
            for value in self.focused:
                self.check(target, {**valid, name: value}, f"{name}={_show(value)} (rest valid)")


def _closed(response) -> bool:
    """The answer to a request that did not get in: signed out, refused, not found, not allowed."""
    if response.status_code in (401, 403, 404, 405):
        return True
    return response.status_code in (301, 302, 303) and urlsplit(response.headers["Location"]).path == "/login"


def _share(values: list[str], part: int, size: int) -> list[str]:
    """``size`` of ``values`` for the ``part``-th of the staff roles that see the same screens: together
    they try every value, each a share of them (the walk stays well under a minute)."""
    return [value for i, value in enumerate(values) if (i - part) % len(values) < size]


def test_no_hostile_request_answers_500(walked):
    """Signed out, then each role; the manager (whose pages gave the forms and links) last.

    Signed out and the manager get every value; the four other roles see the same screens
    (narrowed to their units), so each takes a share of the values, together all of them.
    """
    app, world = walked
    manager = signed_in(app, world, Role.MANAGER)  # an authenticator code signs in once: one manager browser
    targets = _targets(app, manager)
    report = []
    sharing = [Role.FRONT_OFFICE, Role.FACILITATOR, Role.BACK_OFFICE, Role.SUPERVISOR]
    for role in [None, *sharing, Role.MANAGER]:
        who = role.value if role else "signed out"
        browser = manager if role == Role.MANAGER else signed_in(app, world, role) if role else Browser(app)
        if browser.token is None:
            browser.get("/login")
        if role in sharing:
            part = sharing.index(role)
            walker = _Walker(browser, _share(HOSTILE, part, 4), _share(FOCUSED, part, 2))
        else:
            walker = _Walker(browser)
        errors = _Errors()
        logging.getLogger().addHandler(errors)
        try:
            kept_session = None
            for target in targets:
                if _last(target.endpoint) and kept_session is None:  # has the walk so far kept the session?
                    kept_session = role is None or browser.get("/admin/").status_code == 200
                walker.walk(target)
        finally:
            logging.getLogger().removeHandler(errors)
        report += [f"{who}: {problem}" for problem in walker.problems]
        report += [f"{who}: logged {record}" for record in errors.records]
        if not kept_session:
            report.append(f"{who}: a hostile request ended the session")
    assert not report, f"{len(report)} failed:\n" + "\n".join(report)


# ---- what was seen: each a clear 400 or 404, nothing stored ----------------------------------

HUGE = "99999999999999999999999"


def _inbound_count(db_session) -> int:
    from sqlalchemy import func

    from slrt.models.enums import SmsDirection

    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(SmsMessage).where(
        SmsMessage.direction == SmsDirection.INBOUND))


@pytest.mark.parametrize("stamp", ["17999\u00b200000", "\u0661\u0667\u0669\u0669\u0660\u0660\u0660\u0660\u0660\u0660",
                                   "9" * 5000], ids=["superscript", "arabic-indic", "5000-digits"])
def test_a_phone_webhook_with_an_odd_timestamp_is_refused(app, db_session, monkeypatch, stamp):
    from fakes.android import sign

    monkeypatch.setitem(app.config, "SLRT_ANDROID_SIGNING_KEY", "key")
    raw = json.dumps({"event": "sms:received", "payload": {"messageId": "m1", "sender": "+6281225550101",
                                                           "message": "CEK 12345-6"}}).encode()
    with app.app_context():
        response = app.test_client().post("/sms/android/inbound", data=raw, headers={
            "Content-Type": "application/json", "X-Timestamp": stamp, "X-Signature": sign("key", raw, stamp)})
    assert response.status_code == 403
    assert _inbound_count(db_session) == 0


_ODD_IDS = {"id-object": {"id": "m1"}, "id-number": 12, "id-500": "x" * 500}
_ODD_RECEIVED = {
    **{name: {"messageId": value, "sender": "+6281225550101", "message": "CEK"} for name, value in _ODD_IDS.items()},
    "number-list": {"messageId": "m1", "phoneNumber": ["+6281225550101"], "message": "CEK"},
    "number-null": {"messageId": "m1", "phoneNumber": None, "message": "CEK"},
    "message-object": {"messageId": "m1", "sender": "+6281225550101", "message": {"text": "CEK"}},
}
_ODD_RECEIPTS = {name: {"messageId": value, "deliveredAt": "2026-11-24T10:00:00+07:00"}
                 for name, value in _ODD_IDS.items()}


@pytest.mark.parametrize(("event", "payload"), [("sms:received", p) for p in _ODD_RECEIVED.values()]
                         + [("sms:delivered", p) for p in _ODD_RECEIPTS.values()],
                         ids=[f"received-{n}" for n in _ODD_RECEIVED] + [f"receipt-{n}" for n in _ODD_RECEIPTS])
def test_a_signed_phone_webhook_of_the_wrong_shape_is_refused(app, db_session, monkeypatch, event, payload):
    monkeypatch.setitem(app.config, "SLRT_ANDROID_SIGNING_KEY", "key")
    raw = json.dumps({"event": event, "payload": payload}).encode()
    with app.app_context():
        response = app.test_client().post("/sms/android/inbound", data=raw,
                                          headers=FakeAndroidPhone.signed_headers("key", raw))
    assert response.status_code == 400
    assert _inbound_count(db_session) == 0


def test_twilio_webhooks_with_a_500_character_sid_are_refused(db_session, signed):  # noqa: F811
    response = signed("/sms/twilio/inbound", {"MessageSid": "SM" + "a" * 498, "From": "+6281225550101",
                                              "Body": "CEK 12345-6"})
    assert response.status_code == 400
    assert _inbound_count(db_session) == 0
    assert signed("/sms/twilio/status/1", {"MessageSid": "SM" + "a" * 498, "MessageStatus": "delivered"}
                  ).status_code == 400


def test_a_twilio_status_callback_for_a_huge_id_is_not_found(signed):  # noqa: F811
    assert signed(f"/sms/twilio/status/{HUGE}", {"MessageSid": "SM1", "MessageStatus": "delivered"}
                  ).status_code == 404


@pytest.fixture
def supervisor(app, district, db_session):
    referral = make_referral(district)
    db_session.commit()
    browser = signed_in(app, district, Role.SUPERVISOR)
    browser.referral = referral
    return browser


@pytest.mark.parametrize("url", [
    "/admin/referral/?flt0_26=bogus",  # the domain filter
    "/admin/referral/?flt0_26=" + "x" * 10_000,
])
def test_an_unknown_filter_value_is_said_not_failed(supervisor, url):
    response = supervisor.get(url)
    assert response.status_code == 200
    assert "Nilai filter tidak sah: " in response.get_data(as_text=True)
    assert len(response.headers.get("Set-Cookie", "")) <= MAX_COOKIE  # the flashed value is cut short


@pytest.mark.parametrize("url", [f"/admin/case/?page={HUGE}", "/admin/case/?page=-1", f"/admin/case/details/?id={HUGE}",
                                 f"/admin/staff/ajax/lookup/?name=unit&offset={HUGE}"])
def test_a_page_or_record_that_cannot_exist_is_not_found_in_indonesian(supervisor, url):
    response = supervisor.get(url)
    assert response.status_code in (403, 404)  # the lookup is for managers only
    if response.status_code == 404:
        assert "Halaman tidak ditemukan" in response.get_data(as_text=True)


@pytest.mark.parametrize(("field", "said"), [("service_id", "Pilih layanan"), ("agency_id", "Pilih lembaga")])
def test_a_referral_with_a_huge_id_refers_nothing(supervisor, db_session, field, said):
    from sqlalchemy import func

    from slrt.models import Referral

    case_id = supervisor.referral.case_id
    supervisor.get(f"/admin/case/details/?id={case_id}")
    form = {"service_id": str(supervisor.referral.service_id), "confirm_duplicate": "1", field: HUGE}
    response = supervisor.post(f"/admin/case/{case_id}/refer", form)
    assert response.status_code == 302
    assert said in supervisor.get(response.headers["Location"]).get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Referral)) == 1


def test_an_action_on_a_huge_row_id_is_refused(supervisor, db_session):
    supervisor.get("/admin/referral/")
    response = supervisor.post("/admin/referral/action/", {"action": "remind", "rowid": [HUGE]})
    assert response.status_code == 400
    assert "Permintaan tidak dapat diproses" in response.get_data(as_text=True)


def test_a_follow_up_or_move_on_a_huge_id_is_not_found(supervisor):
    supervisor.get("/admin/")
    assert supervisor.post(f"/admin/case/follow-up/{HUGE}/done", {"note": "ditelepon"}).status_code == 404
    assert supervisor.post(f"/admin/case/referral/{HUGE}/accept", {}).status_code == 404
    assert supervisor.post(f"/admin/case/{HUGE}/reassign", {"assignee_id": "1"}).status_code == 404


def test_a_signed_out_visit_with_a_huge_query_goes_to_sign_in_without_it(app):
    """The sign-in redirect carries the page back, never a query of any size (a 120 KB Location header
    is refused by the proxy in front)."""
    client = app.test_client()
    response = client.get("/admin/audit-log/?x=" + "a" * 60_000)
    assert response.status_code == 302 and len(response.headers["Location"]) < 2200
    assert "/login?next=" in response.headers["Location"] and "audit-log" in response.headers["Location"]
    short = client.get("/admin/case/?page=2")
    assert "page%3D2" in short.headers["Location"] or "page=2" in short.headers["Location"]
