"""The demo district: built through the domain, in every state, the same for the same seed.

These tests build their own app on a fresh SQLite file (the demo needs an empty database
and commits, unlike the rolled-back session of the other tests).
"""

from __future__ import annotations

import ast
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from slrt import cases, catalogue, demo, regions, setup_import
from slrt.access import SYSTEM_ACTOR
from slrt.demo.data import DISTRICTS, SETUP_DIR, SETUP_FILES
from slrt.extensions import db
from slrt.identity import normalize_mobile, validate_kk, validate_nik
from slrt.models import (
    Agency,
    Case,
    Event,
    Household,
    Referral,
    Region,
    Resident,
    Service,
    SmsMessage,
    Staff,
    Unit,
)
from slrt.models.enums import (
    REFERRAL_ACTIVE,
    CaseStatus,
    Channel,
    Domain,
    EventKind,
    PhoneOwner,
    ReferralStatus,
    RegionLevel,
    Role,
    SmsDirection,
    SmsStatus,
    UnitKind,
)
from slrt.pii import new_key

#: The demo is built as if today were Tuesday 24 November 2026, 10:00 in Jakarta.
BUILT_AT = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
RESIDENTS = 60
#: The product's code (time-machine is a test requirement: none of it may import it).
ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("app.py", "slrt", "sms", "tasks", "admin_views")


def make_app(path, **config):
    """Return an app on an empty, migrated SQLite database at ``path``; ``config`` adds settings."""
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path / 'demo.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{path / 'broker.sqlite'}",
        "SECRET_KEY": "test-secret",
        "SLRT_PII_KEY": new_key(),
        # hashing cost is not what these tests are about
        "SLRT_PASSWORD_HASH": "plaintext",
        **config,
    })
    app.instance_path = str(path)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """An app whose database holds the demo of 60 residents (seed 2026), committed."""
    app = make_app(tmp_path_factory.mktemp("demo"))
    with app.app_context(), time_machine.travel(BUILT_AT, tick=False):
        demo.seed(residents=RESIDENTS, random_seed=2026)
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def session(demo_app):
    """The demo database's session; anything a test changes is rolled back."""
    with demo_app.app_context():
        yield db.session
        db.session.rollback()


def resident_names(session) -> list[str]:
    return list(session.scalars(select(Resident.name).order_by(Resident.id)))


def test_every_case_and_referral_state_appears(session):
    case_states = set(session.scalars(select(Case.status).distinct()))
    referral_states = set(session.scalars(select(Referral.status).distinct()))
    assert case_states == set(CaseStatus)
    assert referral_states == set(ReferralStatus)
    # the moments that are events or counters rather than states
    assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == EventKind.IN_PROCESS))
    assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == EventKind.REASSIGNED))
    assert session.scalar(select(func.count()).select_from(Referral).where(Referral.reopened_count > 0))


def test_histories_are_consistent(session):
    for case in session.scalars(select(Case)):
        if case.status == CaseStatus.CLOSED:
            assert case.outcome is not None and case.closed_at >= case.opened_at
        if case.status == CaseStatus.IN_PROGRESS:
            assert any(r.status in REFERRAL_ACTIVE for r in case.referrals)
        if case.status == CaseStatus.CANCELLED:
            assert case.outcome_note and not any(r.status in REFERRAL_ACTIVE for r in case.referrals)
        times = [event.at for event in case.events]
        assert times == sorted(times) and times[0] == case.opened_at
    rejected = session.scalars(select(Referral).where(Referral.status == ReferralStatus.REJECTED)).all()
    assert all(r.reason for r in rejected)


def test_some_referrals_are_overdue_and_some_still_on_time(session):
    active = session.scalars(select(Referral).where(Referral.status.in_(REFERRAL_ACTIVE))).all()
    assert any(r.due_at < BUILT_AT for r in active)
    assert any(r.due_at > BUILT_AT for r in active)


def test_every_nik_decrypts_and_matches_the_birth_date_and_sex(session):
    residents = session.scalars(select(Resident)).all()
    assert len(residents) == RESIDENTS
    for resident in residents:
        nik = resident.nik
        assert nik.startswith("3316") and nik[-4:] != "0000"
        assert validate_nik(nik, birth_date=resident.birth_date, sex=resident.sex) == nik
        assert resident.nik_masked == nik[:4] + "********" + nik[-4:]
    for household in session.scalars(select(Household)):
        assert household.kk_number.startswith("3316") and validate_kk(household.kk_number)


def test_phones_are_valid_unique_mobiles_and_say_whose_they_are(session):
    residents = session.scalars(select(Resident)).all()
    phones = [r.phone for r in residents if r.phone]
    assert len(phones) == len(set(phones)) and len(phones) < len(residents)
    assert all(normalize_mobile(phone) == phone for phone in phones)
    owners = {r.phone_owner for r in residents if r.phone}
    assert PhoneOwner.OWN in owners and len(owners) > 1
    assert all(r.phone_owner_name for r in residents if r.phone and r.phone_owner != PhoneOwner.OWN)


def test_the_demo_district_is_blora_as_in_the_official_region_list(session):
    official = dict(regions.read_list())
    blora = session.scalars(select(Region).where(Region.code.like("33.16.%"))).all()
    assert sum(r.level == RegionLevel.DISTRICT for r in blora) == 16
    assert sum(r.level == RegionLevel.VILLAGE for r in blora) == 295
    assert all(official[r.code] == r.name for r in blora)
    for code, name, villages in DISTRICTS:  # the villages residents are drawn from, by their official names
        assert official[code] == name
        assert all(official[f"{code}.{suffix}"] == village for suffix, village, _ in villages)
    # the villages the demo's stories name have residents, and the posts sit on real villages
    lived_in = set(session.scalars(select(Region.name).join(Resident, Resident.village_id == Region.id)))
    assert {"Kepoh", "Gedongsari", "Talokwohmojo", "Bangkle", "Sendangwungu", "Jepon"} <= lived_in
    posts = {u.name: u for u in session.scalars(select(Unit).where(Unit.kind == UnitKind.PUSKESOS))}
    assert posts["Puskesos Kelurahan Jepon"].region.code == "33.16.08.1013"
    gedongsari = posts["Puskesos Desa Gedongsari"]
    assert (gedongsari.region.name, gedongsari.region.parent.name) == ("Gedongsari", "Banjarejo")
    assert sorted(v.name for v in gedongsari.villages) == ["Banjarejo", "Sendangwungu"]
    sendangwungu = session.scalar(select(Resident).join(Resident.village).where(Region.name == "Sendangwungu")
                                  .limit(1))
    assert session.scalar(select(Case.unit_id).where(Case.resident_id == sendangwungu.id).limit(1)) in (
        gedongsari.id, gedongsari.parent_id, None)


def test_the_demo_spreadsheets_are_what_the_database_holds(session):
    """Imported again (as a dry run), every row of the demo's set-up files is unchanged; the services
    sheet carries the default catalogue as it is, only adding each service's agency."""
    for name, kind in SETUP_FILES:
        result = setup_import.import_setup((SETUP_DIR / name).read_bytes(), filename=name, actor=SYSTEM_ACTOR,
                                           kind=kind, dry_run=True)
        assert {r.action for r in result.rows} == {setup_import.UNCHANGED}, (name, list(setup_import.describe(result)))
    for spec in catalogue.SERVICES:
        service = session.scalar(select(Service).where(Service.code == spec.code))
        assert (service.name, service.short_name, service.domain, service.sla_days, service.reminder_first_days,
                service.reminder_every_days, service.reminder_max) == (
            spec.name, spec.short_name, spec.domain, spec.sla_days, *spec.reminders)
        assert [d.code for d in service.documents] == list(spec.documents)


def test_demo_logins_exist_with_their_roles_and_passwords(session):
    logins = demo.logins()
    assert {login.role for login in logins} == {r.value for r in Role} and len(logins) == 6
    for login in logins:
        user = session.scalar(select(Staff).where(Staff.username == login.username))
        assert user is not None and user.is_active and user.role == Role(login.role)
        assert user.check_password(login.password) and len(login.password) >= 10
        assert user.unit.name == login.unit
        if user.role in (Role.SUPERVISOR, Role.MANAGER, Role.BACK_OFFICE):
            assert user.unit.kind == UnitKind.SECRETARIAT
    # front office at the counter of a Puskesos and of the secretariat; the facilitator at a Puskesos
    front_office = {login.unit for login in logins if login.role == Role.FRONT_OFFICE.value}
    kinds = set(session.scalars(select(Unit.kind).where(Unit.name.in_(front_office))))
    assert kinds == {UnitKind.PUSKESOS, UnitKind.SECRETARIAT}
    facilitator = next(login for login in logins if login.role == Role.FACILITATOR.value)
    assert session.scalar(select(Unit.kind).where(Unit.name == facilitator.unit)) == UnitKind.PUSKESOS


def test_the_demo_manager_signs_in_with_the_printed_authenticator_key(session, demo_app):
    manager = next(login for login in demo.logins() if login.role == Role.MANAGER.value)
    assert manager.authenticator_key and all(login.authenticator_key is None
                                             for login in demo.logins() if login.role != manager.role)
    user = session.scalar(select(Staff).where(Staff.username == manager.username))
    assert user.tf_primary_method == "authenticator"
    with demo_app.test_request_context():
        totp = demo_app.extensions["security"].totp_factory
        assert totp.get_totp_b32_key(user.tf_totp_secret) == manager.authenticator_key
        assert totp.generate_totp_password(user.tf_totp_secret) == demo.authenticator_code()


def test_front_office_login_can_open_a_case_in_its_puskesos(session):
    clerk = session.scalar(select(Staff).where(Staff.username == "frontoffice"))
    resident = session.scalar(select(Resident).where(Resident.village_id == clerk.unit.region_id).limit(1))
    need = session.scalar(select(Service).where(Service.code == "BPJS_PBI_AKTIVASI"))
    case = cases.open_case(resident=resident, unit=clerk.unit, channel=Channel.PUSKESOS,
                           summary="KIS belum ada.", needs=[need], actor=clerk)
    assert case.status == CaseStatus.OPEN and case.assignee is clerk


def test_cases_span_a_year_in_the_design_proportions(session):
    opened = session.scalars(select(Case.opened_at)).all()
    assert len({(moment.year, moment.month) for moment in opened}) >= 10
    assert min(opened) > BUILT_AT - timedelta(days=400)
    main_domains = [case.needs[0].service.domain for case in session.scalars(select(Case))]
    health = main_domains.count(Domain.HEALTH) / len(main_domains)
    assert 0.5 < health < 0.9 and Domain.SOCIAL in main_domains
    assert session.scalar(select(func.count()).select_from(Unit).where(Unit.kind == UnitKind.PUSKESOS)) >= 3


def test_catalogue_and_agencies_fit_in_sms(session):
    services = session.scalars(select(Service)).all()
    assert {s.domain for s in services} == set(Domain)
    assert all(len(s.short_name) <= 30 and s.default_agency is not None for s in services)
    bpjs = next(s for s in services if s.code == "BPJS_PBI_AKTIVASI")
    assert [d.sms_name for d in bpjs.documents] == ["SKTM", "fc KK", "fc KTP", "fc akta", "map"]
    for agency in session.scalars(select(Agency)):
        assert 1 <= len(agency.contacts) <= 3 and sum(c.is_head for c in agency.contacts) == 1
        assert all(normalize_mobile(c.phone) == c.phone for c in agency.contacts)


def test_old_messages_are_history_and_recent_ones_wait_for_the_worker(session):
    old = session.scalars(select(SmsMessage).where(
        SmsMessage.direction == SmsDirection.OUTBOUND, SmsMessage.created_at < BUILT_AT - timedelta(days=2))).all()
    assert old and {m.status for m in old} <= {SmsStatus.SENT, SmsStatus.DELIVERED}
    assert all(m.gateway == "console" and m.sent_at >= m.created_at for m in old)
    recent = session.scalars(select(SmsMessage.status).where(
        SmsMessage.created_at >= BUILT_AT - timedelta(days=2))).all()
    assert SmsStatus.PENDING in recent


def test_seeding_twice_is_refused(session):
    with pytest.raises(RuntimeError, match="empty database"):
        demo.seed(residents=20)


def test_cli_builds_the_same_demo_for_the_same_seed_and_only_once(demo_app, tmp_path):
    with demo_app.app_context():
        expected = resident_names(db.session)
    app = make_app(tmp_path)
    runner = app.test_cli_runner()
    with time_machine.travel(BUILT_AT, tick=False):
        result = runner.invoke(args=["slrt", "seed-demo", "--if-empty", "--residents", str(RESIDENTS),
                                     "--seed", "2026"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"demo data: 1 secretariat, 5 Puskesos, 17 staff, 8 agencies, 11 services, "
                                    f"{RESIDENTS} residents, ")
    with app.app_context():
        assert resident_names(db.session) == expected
        cases_before = db.session.scalar(select(func.count()).select_from(Case))

    again = runner.invoke(args=["slrt", "seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "database not empty" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == cases_before
        assert db.session.scalar(select(func.count()).select_from(Resident)) == RESIDENTS

    logins = runner.invoke(args=["slrt", "demo-logins"]).output.splitlines()
    assert logins[0] == "login manager: manager / demo-manager-2026 (Sekretariat SLRT Kabupaten Blora)"
    assert "add the key SLRT DEMO" in logins[1] and "(demo only)" in logins[1]
    assert "login front_office: loket / demo-loket-2026 (Sekretariat SLRT Kabupaten Blora)" in logins
    assert "login front_office: frontoffice / demo-frontoffice-2026 (Puskesos Kelurahan Jepon)" in logins
    assert len(logins) == 8 and logins[2].endswith(".venv/bin/flask --app app slrt demo-code")
    code = runner.invoke(args=["slrt", "demo-code"]).output.strip()
    assert code.isdigit() and len(code) == 6
    with app.app_context():
        db.engine.dispose()


def test_another_seed_gives_other_people(demo_app, tmp_path):
    with demo_app.app_context():
        first = resident_names(db.session)[:20]
    app = make_app(tmp_path)
    with app.app_context(), time_machine.travel(BUILT_AT, tick=False):
        demo.seed(residents=20, random_seed=7)
        assert resident_names(db.session) != first
        db.session.rollback()
        db.engine.dispose()


def test_no_product_module_imports_time_machine():
    """The demo stops the domain clock itself (slrt.clock.stopped_at); time-machine is for tests."""
    offenders = []
    for top in PRODUCT:
        for path in [ROOT / top] if top.endswith(".py") else sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                if any(name.split(".")[0] == "time_machine" for name in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
