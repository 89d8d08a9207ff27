"""Every role x every screen x every verb, enforced on the server; and unit scoping by URL."""

import re
from urllib.parse import urlsplit

import pytest
from flask import current_app
from sqlalchemy import select
from wtforms.fields.core import UnboundField

from admin_views.base import SecureModelView
from fakes.builders import make_case, make_referral, make_resident
from slrt import referrals
from slrt.models import (
    Agency,
    AgencyContact,
    Case,
    Document,
    Household,
    Referral,
    Region,
    Resident,
    Service,
    SmsMessage,
    SmsTemplate,
    Staff,
    Unit,
)
from slrt.models.enums import Role
from tests.web import Browser

FO, FA, BO, SU, MA = Role.FRONT_OFFICE, Role.FACILITATOR, Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER
ALL = {FO, FA, BO, SU, MA}
OVERSIGHT = {SU, MA}

#: view endpoint -> verb -> roles that may use it (everyone else: 403)
MATRIX = {
    "case": {"list": ALL, "details": ALL, "create": set(), "edit": set(), "delete": set(), "export": OVERSIGHT},
    "referral": {"list": ALL, "details": ALL, "create": set(), "edit": set(), "delete": set(), "export": OVERSIGHT},
    "resident": {"list": ALL, "details": ALL, "create": set(), "edit": ALL, "delete": set(), "export": OVERSIGHT},
    "household": {"list": ALL, "details": ALL, "create": set(), "edit": set(), "delete": set(), "export": set()},
    "service": {"list": ALL, "details": ALL, "create": {MA}, "edit": {MA}, "delete": set(), "export": set()},
    "document": {"list": ALL, "details": ALL, "create": {MA}, "edit": {MA}, "delete": set(), "export": set()},
    "agency": {"list": ALL, "details": ALL, "create": {MA}, "edit": {MA}, "delete": set(), "export": set()},
    "agency_contact": {"list": ALL, "details": ALL, "create": {MA}, "edit": {MA}, "delete": set(),
                       "export": set()},
    "sms": {"list": ALL, "details": ALL, "create": set(), "edit": set(), "delete": set(), "export": OVERSIGHT},
    "sms_template": {"list": ALL, "details": ALL, "create": {MA}, "edit": {MA}, "delete": {MA}, "export": set()},
    "staff": {"list": {MA}, "details": set(), "create": {MA}, "edit": {MA}, "delete": set(), "export": set()},
    "unit": {"list": {MA}, "details": {MA}, "create": {MA}, "edit": {MA}, "delete": set(), "export": set()},
    "region": {"list": {MA}, "details": set(), "create": set(), "edit": set(), "delete": set(), "export": set()},
}
#: Verbs a screen switched off for everyone: Flask-Admin sends whoever may read the list back to it.
SWITCHED_OFF = {("staff", "details"), ("region", "details")}
MODELS = {"case": Case, "referral": Referral, "resident": Resident, "household": Household, "service": Service,
          "document": Document, "agency": Agency, "agency_contact": AgencyContact, "sms": SmsMessage,
          "sms_template": SmsTemplate, "staff": Staff, "unit": Unit, "region": Region}


@pytest.fixture
def world(app, district, db_session):
    """One record of each kind in Puskesos Jepon, ids kept for URLs."""
    referral = make_referral(district)
    db_session.add(SmsTemplate(key="case_closed", language="id", body="{office}: tiket {ticket} ditutup."))
    db_session.commit()
    ids = {
        "case": referral.case_id, "referral": referral.id, "resident": referral.case.resident_id,
        "household": None, "service": referral.service_id, "document": referral.service.documents[0].id,
        "agency": referral.agency_id, "agency_contact": referral.agency.contacts[0].id,
        "sms": db_session.scalar(select(SmsMessage.id).where(SmsMessage.case_id == referral.case_id)),
        "sms_template": db_session.scalar(select(SmsTemplate.id)),
        "staff": district.user(FO).id,
        "unit": district.puskesos[0].id,
        "region": district.villages[0].id,
    }
    from slrt.residents import register_household

    household = register_household(kk_number="3316012005100007", address="Dk. Krajan", village=district.villages[0],
                                   actor=district.user(FO))
    db_session.commit()
    ids["household"] = household.id
    return ids


def signed_in(app, district, role, unit=None) -> Browser:
    """A browser signed in as ``district.user(role, unit)`` (a manager through the authenticator app)."""
    browser = Browser(app)
    username = district.user(role, unit).username
    if role == MA:
        security = current_app.extensions["security"]
        secret = security.totp_factory.generate_totp_secret()
        from slrt.extensions import db

        security.datastore.tf_set(db.session.get(Staff, district.user(MA, unit).id), "authenticator",
                                  totp_secret=secret)
        db.session.commit()
        browser.login(username, code=security.totp_factory.generate_totp_password(secret))
    else:
        browser.login(username)
    assert browser.get("/admin/").status_code == 200
    return browser


def _request(browser, view, verb, ident):
    base = f"/admin/{view}"
    if verb == "list":
        return browser.get(f"{base}/")
    if verb == "details":
        return browser.get(f"{base}/details/?id={ident}")
    if verb == "create":
        return browser.get(f"{base}/new/")
    if verb == "edit":
        return browser.get(f"{base}/edit/?id={ident}")
    if verb == "delete":
        browser.get(f"{base}/")
        return browser.post(f"{base}/delete/", {"id": ident, "url": f"{base}/"})
    if verb == "export":
        return browser.get(f"{base}/export/csv/")
    raise AssertionError(verb)


def _expected(view, verb, role):
    """What a signed-in user gets: the page (200), the list it sends them back to (its path), or 403."""
    if (view, verb) in SWITCHED_OFF and role in MATRIX[view]["list"]:
        return f"/admin/{view}/"
    if role not in MATRIX[view][verb]:
        return 403  # SecureMixin.inaccessible_callback and SecureModelView._handle_view: abort(403)
    return f"/admin/{view}/" if verb == "delete" else 200


def _outcome(response):
    if response.status_code == 302:
        return urlsplit(response.headers["Location"]).path
    return response.status_code


@pytest.mark.parametrize("role", sorted(ALL))
def test_permission_matrix(app, district, db_session, world, role):
    browser = signed_in(app, district, role)
    problems = []
    for view, verbs in MATRIX.items():
        for verb in verbs:
            outcome = _outcome(_request(browser, view, verb, world[view]))
            if outcome != _expected(view, verb, role):
                problems.append(f"{role} {verb} {view}: {outcome}, not {_expected(view, verb, role)}")
    assert problems == []
    # only what the role may delete is gone: SMS templates, by managers
    db_session.expire_all()
    gone = {view for view, model in MODELS.items() if db_session.get(model, world[view]) is None}
    assert gone == {view for view, verbs in MATRIX.items() if role in verbs["delete"]}


@pytest.mark.parametrize("role", sorted(ALL))
def test_work_pages_for_every_role(app, district, db_session, world, role):
    browser = signed_in(app, district, role)
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/admin/intake/").status_code == 200
    assert browser.get("/admin/report.csv").status_code == 200
    assert browser.get(f"/admin/referral/slip/?id={world['referral']}").status_code == 200


def test_puskesos_sees_only_its_village(app, district, db_session):
    jepon_case = make_case(district, unit=district.puskesos[0])
    palon_case = make_case(district, make_resident(district, village=district.villages[1]),
                           unit=district.puskesos[1], actor=district.user(FO, district.puskesos[1]))
    palon_ref = referrals.refer(palon_case, service=district.services["bpjs_pbi"], actor=district.user(BO))
    db_session.commit()
    ids = {"jepon": jepon_case.id, "palon": palon_case.id, "palon_ref": palon_ref.id,
           "palon_resident": palon_case.resident_id, "jepon_ticket": jepon_case.ticket,
           "palon_ticket": palon_case.ticket}
    browser = Browser(app)
    browser.login(district.user(BO, district.puskesos[0]).username)
    listing = browser.get("/admin/case/").get_data(as_text=True)
    assert ids["jepon_ticket"][:-1] in listing and ids["palon_ticket"][:-1] not in listing
    assert browser.get(f"/admin/case/details/?id={ids['palon']}").status_code == 404
    assert browser.get(f"/admin/referral/slip/?id={ids['palon_ref']}").status_code == 404
    assert browser.get(f"/admin/resident/details/?id={ids['palon_resident']}").status_code == 404
    assert browser.get(f"/admin/resident/edit/?id={ids['palon_resident']}").status_code == 404
    # an action on another village's referral is refused and changes nothing
    response = browser.post(f"/admin/case/referral/{ids['palon_ref']}/accept")
    assert response.status_code == 404
    assert db_session.get(Referral, ids["palon_ref"]).status == "sent"
    # the secretariat sees both
    boss = Browser(app)
    boss.login(district.user(SU).username)
    listing = boss.get("/admin/case/").get_data(as_text=True)
    assert ids["jepon_ticket"][:-1] in listing and ids["palon_ticket"][:-1] in listing


def test_count_query_is_scoped_like_the_list(app, district, db_session):
    make_case(district, unit=district.puskesos[0])
    make_case(district, unit=district.puskesos[1], actor=district.user(FO, district.puskesos[1]))
    db_session.commit()
    from flask_login import login_user

    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "case")
    with app.test_request_context("/admin/case/"):
        login_user(db_session.get(Staff, district.user(FO, district.puskesos[0]).id))
        assert view.get_count_query().scalar() == view.get_query().count() == 1


def test_forged_or_missing_csrf_changes_nothing(app, district, db_session, world):
    browser = signed_in(app, district, BO)
    url = f"/admin/case/referral/{world['referral']}/accept"
    assert browser.post(url, token=False).status_code == 400
    assert browser.post(url, {"csrf_token": "forged." + "x" * 40}).status_code == 400
    assert db_session.get(Referral, world["referral"]).status == "sent"
    browser.get(f"/admin/case/details/?id={world['case']}")
    assert browser.post(url).status_code == 302
    db_session.expire_all()
    assert db_session.get(Referral, world["referral"]).status == "accepted"


#: Screens nobody creates or edits records on (their changes are buttons that call slrt/): they
#: declare no form_columns, so Flask-Admin would scaffold every column into forms no role may open.
READ_ONLY = {"case", "referral", "follow_up", "household", "sms", "region"}


def _forms(app):
    """(view, {field name: unbound field}) of the create and edit forms each editable screen really builds."""
    views = [v for v in app.extensions["admin"][0]._views if isinstance(v, SecureModelView)]
    assert {v.endpoint for v in views if not (v.create_roles or v.edit_roles)} == READ_ONLY
    for view in views:
        if view.endpoint in READ_ONLY:
            continue
        assert view.form_columns, f"{view.endpoint}: an editable screen declares its form_columns whitelist"
        fields = {}
        for form_class in (view._create_form_class, view._edit_form_class):
            fields.update((name, getattr(form_class, name)) for name in dir(form_class)
                          if isinstance(getattr(form_class, name), UnboundField))
        yield view, fields


def test_status_is_never_a_form_field(app):
    checked = set()
    for view, fields in _forms(app):
        assert not [n for n in fields if n in ("status", "provider_id", "ticket") or n.endswith("_at")], view
        checked.add(view.endpoint)
    assert checked == {"resident", "service", "document", "agency", "agency_contact", "sms_template", "staff",
                       "unit"}


def test_agency_list_uses_no_dropdown_of_a_whole_table(app):
    for view, fields in _forms(app):
        for name in fields:
            prop = getattr(getattr(view.model, name, None), "property", None)
            if prop is not None and prop.__class__.__name__ == "RelationshipProperty":
                target = prop.mapper.class_
                if target in (Resident, Case, Agency, Service, Region, Unit):
                    assert name in (view.form_ajax_refs or {}), f"{view.endpoint}.{name}"


MOVES = {
    # endpoint suffix -> roles whose request changes the record
    "refer": {BO, SU, MA},
    "accept": {BO, SU, MA},
    "close": {SU, MA},
    "cancel": {SU, MA},
}


@pytest.mark.parametrize("role", sorted(ALL))
def test_transition_endpoints_follow_the_roles(app, district, db_session, role):
    from slrt.models.enums import CaseStatus

    referral = make_referral(district)
    done = make_referral(district)
    referrals.complete(done, actor=district.user(BO))
    fresh = make_case(district)
    db_session.commit()
    ids = {"referral": referral.id, "case": referral.case_id, "done_case": done.case_id, "fresh": fresh.id,
           "service": district.services["bansos"].id}
    browser = signed_in(app, district, role)
    browser.get(f"/admin/case/details/?id={ids['case']}")
    # As confirmed on the confirmation page (a missing document, an irreversible move): what is
    # refused is the role, not a step left out.
    browser.post(f"/admin/case/{ids['fresh']}/refer", {"service_id": ids["service"], "confirm_missing": "1"})
    browser.post(f"/admin/case/referral/{ids['referral']}/accept")
    browser.post(f"/admin/case/{ids['done_case']}/close", {"outcome": "fulfilled", "confirmed": "1"})
    browser.post(f"/admin/case/{ids['fresh']}/cancel", {"note": "ganda", "confirmed": "1"})
    db_session.expire_all()
    referred = db_session.scalar(select(Referral).where(Referral.case_id == ids["fresh"])) is not None
    accepted = db_session.get(Referral, ids["referral"]).status == "accepted"
    closed = db_session.get(Case, ids["done_case"]).status == CaseStatus.CLOSED
    cancelled = db_session.get(Case, ids["fresh"]).status == CaseStatus.CANCELLED
    assert (referred, accepted, closed, cancelled) == (
        role in MOVES["refer"], role in MOVES["accept"], role in MOVES["close"], role in MOVES["cancel"])


def test_manager_keeps_staff_accounts(app, district, db_session):
    target = district.user(FO)
    browser = signed_in(app, district, MA)
    browser.get("/admin/staff/")
    browser.post("/admin/staff/action/", {"action": "deactivate", "rowid": [target.id]})
    db_session.expire_all()
    assert not db_session.get(Staff, target.id).active
    browser.post("/admin/staff/action/", {"action": "activate", "rowid": [target.id]})
    db_session.expire_all()
    assert db_session.get(Staff, target.id).active
    browser.get("/admin/staff/new/")
    response = browser.post("/admin/staff/new/", {
        "username": "rina.p", "full_name": "Rina Puspitasari", "role": "back_office",
        "unit": district.secretariat.id, "phone": "0813-2555-0100", "language": "id", "password": "pendek"})
    # the form comes back with the domain's refusal flashed on it
    assert response.status_code == 200 and "Kata sandi minimal 10 karakter." in _flashed(response)
    assert db_session.scalar(select(Staff).where(Staff.username == "rina.p")) is None
    browser.get("/admin/staff/new/")
    browser.post("/admin/staff/new/", {
        "username": "rina.p", "full_name": "Rina Puspitasari", "role": "back_office",
        "unit": district.secretariat.id, "phone": "0813-2555-0100", "language": "id",
        "password": "panjang-sekali-1"})
    user = db_session.scalar(select(Staff).where(Staff.username == "rina.p"))
    assert user is not None and user.phone == "+6281325550100" and user.check_password("panjang-sekali-1")


def _flashed(response) -> str:
    return " ".join(re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S))


def test_sms_template_editing_keeps_gsm7_and_refuses_bad_text(app, district, db_session):
    browser = signed_in(app, district, MA)
    page = browser.get("/admin/sms_template/new/").get_data(as_text=True)
    assert "sms_counter.js" in page and "data-sms-counter" in page
    base = {"key": "case_closed", "language": "id"}
    page = browser.post("/admin/sms_template/new/", {**base, "body": "{office}: warga miskin {ticket}"}).get_data(
        as_text=True)
    assert "Jangan gunakan kata" in page
    page = browser.post("/admin/sms_template/new/", {**base, "body": "{office}: {nik} ditutup"}).get_data(
        as_text=True)
    assert "Isian tidak dikenal: nik" in page
    browser.get("/admin/sms_template/new/")
    browser.post("/admin/sms_template/new/", {**base, "body": "{office}: \u201ctiket\u201d {ticket} ditutup\u2026"})
    stored = db_session.scalar(select(SmsTemplate).where(SmsTemplate.key == "case_closed"))
    assert stored.body == '{office}: "tiket" {ticket} ditutup...'


def test_form_errors_speak_indonesian(app, district, db_session):
    browser = signed_in(app, district, MA)
    browser.get("/admin/document/new/")
    page = browser.post("/admin/document/new/", {"code": "", "name": "", "sms_name": ""}).get_data(as_text=True)
    assert "Isian ini wajib diisi." in page and "This field is required." not in page
    assert "Simpan" in page and "Daftar" in page  # Flask-Admin's own words
