"""Who sees which unit: one rule (slrt.access) for every role, managers included.

A staff member sees and acts on their own unit and the units below it; what belongs to no
unit (an SMS without a case) and what applies everywhere (catalogue, templates, the sending
pause) is for those who cover every unit. Staff accounts are kept by managers, in their own
units, and nobody grants a role above their own.
"""

import re
from datetime import date, datetime

import pytest
from sqlalchemy import select

from fakes.builders import make_case, make_resident
from slrt import followups, outbox, referrals, reminders, staff
from slrt.access import ROLE_RANK, in_scope, may_grant
from slrt.codes import format_code
from slrt.errors import PermissionDenied
from slrt.models import Case, Household, Referral, Resident, SmsMessage, SmsPause, Staff
from slrt.models.enums import FollowUpReason, Role
from slrt.residents import register_household
from tests.conftest import JAKARTA
from tests.test_admin_matrix import signed_in

FO, FA, BO, SU, MA = Role.FRONT_OFFICE, Role.FACILITATOR, Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER
UNITS = ("secretariat", "jepon", "palon")


def _unit(district, name):
    return {"secretariat": district.secretariat, "jepon": district.puskesos[0], "palon": district.puskesos[1]}[name]


@pytest.fixture
def world(app, district, db_session):
    """A case with a referral, a follow-up and SMS in each Puskesos, and an agency digest of no case."""
    made = {}
    for name, index, service in (("jepon", 0, "bpjs_pbi"), ("palon", 1, "bansos")):
        unit = district.puskesos[index]
        resident = make_resident(district, village=district.villages[index])
        case = make_case(district, resident, unit=unit, services=[service], actor=district.user(FO, unit))
        referral = referrals.refer(case, service=district.services[service], actor=district.user(BO, unit))
        household = register_household(kk_number=f"331601200510{index + 1:04d}", address="Dk. Krajan",
                                        village=district.villages[index], actor=district.user(FO, unit))
        sms = db_session.scalar(select(SmsMessage).where(SmsMessage.case_id == case.id).order_by(SmsMessage.id))
        follow_up = followups.open_for(sms, FollowUpReason.SMS_FAILED, "nomor tidak aktif")
        made[name] = {"case": case.id, "referral": referral.id, "resident": resident.id, "household": household.id,
                      "sms": sms.id, "ticket": format_code(case.ticket), "follow_up": follow_up}
    [digest, *_] = reminders.send_reminder_now(db_session.get(Referral, made["jepon"]["referral"]),
                                               actor=district.user(BO))
    db_session.commit()
    made["digest"] = digest.message_id
    return made


def _sees(unit_name: str) -> set[str]:
    """The units whose records a staff member of ``unit_name`` sees, by the rule."""
    return {"jepon", "palon"} if unit_name == "secretariat" else {unit_name}


@pytest.mark.parametrize("unit_name", UNITS)
@pytest.mark.parametrize("role", sorted(Role))
def test_every_role_in_every_unit_sees_its_subtree_and_nothing_else(app, district, db_session, world, role,
                                                                      unit_name):
    browser = signed_in(app, district, role, _unit(district, unit_name))
    sees = _sees(unit_name)
    for village in ("jepon", "palon"):
        wanted = 200 if village in sees else 404
        for view in ("case", "referral", "resident", "household", "sms"):
            got = browser.get(f"/admin/{view}/details/?id={world[village][view]}").status_code
            assert got == wanted, f"{role} of {unit_name}: {view} of {village} -> {got}"
        assert browser.get(f"/admin/referral/slip/?id={world[village]['referral']}").status_code == wanted
        for view in ("case", "follow_up", "sms"):
            listing = browser.get(f"/admin/{view}/").get_data(as_text=True)
            assert (world[village]["ticket"] in listing) == (village in sees), f"{role} {unit_name} {view} list"
    # an agency digest belongs to no case: only who covers every unit sees it
    digest = browser.get(f"/admin/sms/details/?id={world['digest']}").status_code
    assert digest == (200 if unit_name == "secretariat" else 404)
    if role in (SU, MA):  # exports: the same rows as the lists
        for view in ("case", "referral", "follow_up", "sms"):
            export = browser.get(f"/admin/{view}/export/csv/").get_data(as_text=True)
            for village in ("jepon", "palon"):
                assert (world[village]["ticket"] in export) == (village in sees), f"{role} {unit_name} {view} export"
    report = browser.get("/admin/report.csv").get_data(as_text=True)
    assert ("Aktivasi BPJS PBI" in report) == ("jepon" in sees)  # Jepon's referral
    assert ("Bantuan sosial" in report) == ("palon" in sees)  # Palon's


@pytest.mark.parametrize("unit_name", UNITS)
def test_a_manager_sees_and_keeps_the_accounts_of_its_units_only(app, district, db_session, unit_name):
    browser = signed_in(app, district, MA, _unit(district, unit_name))
    listing = browser.get("/admin/staff/").get_data(as_text=True)
    sees = _sees(unit_name) | ({"sek"} if unit_name == "secretariat" else set())
    for slug in ("sek", "jepon", "palon"):
        assert (f"{slug}.back_office" in listing) == (slug in sees), f"{unit_name} sees {slug}"
        other = district.user(FO, _unit(district, "secretariat" if slug == "sek" else slug))
        assert browser.get(f"/admin/staff/edit/?id={other.id}").status_code == (200 if slug in sees else 404)


def _create(browser, **fields):
    browser.get("/admin/staff/new/")
    data = {"username": "rina.p", "full_name": "Rina Puspitasari", "phone": "", "language": "id",
            "password": "panjang-sekali-1", **fields}
    return browser.post("/admin/staff/new/", data, follow_redirects=True)


def _account(db_session, username="rina.p"):
    db_session.expire_all()
    return db_session.scalar(select(Staff).where(Staff.username == username))


def _flashed(response) -> str:
    return " ".join(re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S))


def test_a_puskesos_manager_cannot_reach_beyond_its_puskesos(app, district, db_session, world):
    jepon, palon = district.puskesos
    browser = signed_in(app, district, MA, jepon)
    # cannot create an account in the secretariat (the escalation seen) nor in another Puskesos
    for unit in (district.secretariat, palon):
        page = _create(browser, role="supervisor", unit=unit.id)
        assert _account(db_session) is None
        assert f"{unit.name} bukan unit Anda." in _flashed(page)
    # cannot create a manager, even in its own Puskesos (the role is not offered, the domain refuses it)
    _create(browser, role="manager", unit=jepon.id)
    assert _account(db_session) is None
    assert 'value="manager"' not in browser.get("/admin/staff/new/").get_data(as_text=True)
    with pytest.raises(PermissionDenied, match="peran Manajer"):
        staff.create_staff(username="rina.q", full_name="Rina Q", role=MA, unit=jepon, password="panjang-sekali-1",
                           actor=db_session.get(Staff, district.user(MA, jepon).id))
    # cannot deactivate or reset secretariat staff, nor move its own staff up and out
    targets = [district.user(role, unit) for unit in (district.secretariat, palon) for role in (FO, SU, MA)]
    browser.get("/admin/staff/")
    for action in ("deactivate", "reset_2fa"):
        browser.post("/admin/staff/action/", {"action": action, "rowid": [t.id for t in targets]})
    db_session.expire_all()
    assert all(db_session.get(Staff, t.id).active for t in targets)
    own = district.user(FO, jepon)
    before = db_session.get(Staff, own.id).fs_uniquifier
    for change in ({"unit": district.secretariat.id, "role": "front_office"}, {"unit": jepon.id, "role": "manager"}):
        browser.get(f"/admin/staff/edit/?id={own.id}")
        browser.post(f"/admin/staff/edit/?id={own.id}", {"full_name": own.full_name, "phone": "", "language": "id",
                                                         **change})
        db_session.expire_all()
        kept = db_session.get(Staff, own.id)
        assert (kept.unit_id, kept.role, kept.fs_uniquifier) == (jepon.id, FO, before)
    # what it may do: its own Puskesos's staff, roles below its own
    page = _create(browser, role="supervisor", unit=jepon.id)
    created = _account(db_session)
    assert created is not None and (created.unit_id, created.role) == (jepon.id, SU), _flashed(page)
    browser.get("/admin/staff/")
    browser.post("/admin/staff/action/", {"action": "deactivate", "rowid": [own.id]})
    db_session.expire_all()
    assert not db_session.get(Staff, own.id).active


def test_a_puskesos_manager_keeps_no_district_settings(app, district, db_session, world):
    service = district.services["bpjs_pbi"]
    db_session.add(SmsPause(gateway="twilio", code="30002", reason="account suspended"))
    db_session.commit()
    local = signed_in(app, district, MA, district.puskesos[0])
    for url in (f"/admin/service/edit/?id={service.id}", "/admin/agency/new/", "/admin/sms_template/new/"):
        assert local.get(url).status_code == 403, url
    local.post("/admin/sms/resume")
    assert db_session.scalar(select(SmsPause).where(SmsPause.resumed_at.is_(None))) is not None
    with pytest.raises(PermissionDenied):
        outbox.resume_sending(actor=db_session.get(Staff, district.user(MA, district.puskesos[0]).id))
    # the district's manager does all of it
    boss = signed_in(app, district, MA)
    for url in (f"/admin/service/edit/?id={service.id}", "/admin/agency/new/", "/admin/sms_template/new/"):
        assert boss.get(url).status_code == 200, url
    boss.post("/admin/sms/resume")
    db_session.expire_all()
    assert db_session.scalar(select(SmsPause).where(SmsPause.resumed_at.is_(None))) is None


def test_the_district_manager_keeps_every_account_and_appoints_managers(app, district, db_session, world):
    jepon, palon = district.puskesos
    boss = signed_in(app, district, MA)
    page = _create(boss, role="manager", unit=jepon.id)
    made = _account(db_session)
    assert made is not None and (made.role, made.unit_id) == (MA, jepon.id), _flashed(page)
    target = district.user(SU, palon)
    boss.get("/admin/staff/")
    boss.post("/admin/staff/action/", {"action": "deactivate", "rowid": [target.id]})
    db_session.expire_all()
    assert not db_session.get(Staff, target.id).active
    # but not its own account: another manager must
    me = district.user(MA)
    boss.get("/admin/staff/")
    page = boss.post("/admin/staff/action/", {"action": "deactivate", "rowid": [me.id]}, follow_redirects=True)
    assert "Anda tidak dapat menonaktifkan akun Anda sendiri." in _flashed(page)
    db_session.expire_all()
    assert db_session.get(Staff, me.id).active


def test_role_order_and_who_may_grant_what(district, db_session):
    assert ROLE_RANK[FO] == ROLE_RANK[FA] == ROLE_RANK[BO] < ROLE_RANK[SU] < ROLE_RANK[MA]
    district_manager, local_manager = district.user(MA), district.user(MA, district.puskesos[0])
    assert [r for r in Role if may_grant(district_manager, r)] == list(Role)
    assert {r for r in Role if may_grant(local_manager, r)} == {SU, FA, FO, BO}
    assert {r for r in Role if may_grant(district.user(SU), r)} == {FA, FO, BO}
    # only managers keep accounts, whatever they could grant
    for role in (FO, FA, BO, SU):
        with pytest.raises(PermissionDenied):
            staff.set_active(district.user(FO, district.puskesos[0]), False, actor=district.user(role))
    # nobody moves their own account
    with pytest.raises(PermissionDenied):
        staff.update_staff(district_manager, actor=district_manager, full_name=district_manager.full_name,
                           role=SU, unit=district.secretariat)
    staff.update_staff(local_manager, actor=local_manager, full_name="Bu Manajer Jepon", role=MA,
                       unit=district.puskesos[0], phone="0813-2555-0100")
    assert local_manager.full_name == "Bu Manajer Jepon" and local_manager.phone == "+6281325550100"


def test_the_sql_rule_matches_the_record_rule(district, db_session, world):
    """in_scope (lists, exports) and staff_covers (one record) say the same for every account."""
    from slrt.access import covers_village, staff_covers

    for unit_staff in district.staff.values():
        for person in unit_staff.values():
            cases = set(db_session.scalars(select(Case.id).where(in_scope(person, Case))))
            assert cases == {c.id for c in db_session.scalars(select(Case)) if staff_covers(person, c.unit)}
            people = set(db_session.scalars(select(Resident.id).where(in_scope(person, Resident))))
            assert people == {r.id for r in db_session.scalars(select(Resident))
                              if covers_village(person, r.village_id)}
            homes = set(db_session.scalars(select(Household.id).where(in_scope(person, Household))))
            assert homes == {h.id for h in db_session.scalars(select(Household))
                             if covers_village(person, h.village_id)}
            accounts = set(db_session.scalars(select(Staff.id).where(in_scope(person, Staff))))
            assert accounts == {s.id for s in db_session.scalars(select(Staff)) if staff_covers(person, s.unit)}


def test_a_puskesos_registers_residents_of_its_own_village_only(district, db_session):
    from fakes.builders import make_nik
    from slrt.residents import register_resident

    with pytest.raises(PermissionDenied, match="Palon tidak dilayani unit Anda"):
        register_resident(nik=make_nik(), name="Sri Wahyuni", sex="F", birth_date=date(1980, 5, 17),
                          village=district.villages[1], address="RT 01 RW 02",
                          actor=district.user(FO, district.puskesos[0]))
    assert make_resident(district, village=district.villages[1]).id  # the secretariat may


def test_a_reminder_now_goes_once_per_referral_per_office_day(district, db_session, frozen):
    referral = make_case(district)
    referral = referrals.refer(referral, service=district.services["bpjs_pbi"], actor=district.user(BO))
    clerk = district.user(BO)

    def digests():
        return db_session.scalars(select(SmsMessage).where(SmsMessage.template_key == "agency_reminder_digest",
                                                           SmsMessage.body.contains(format_code(referral.code)))).all()

    assert len(reminders.send_reminder_now(referral, actor=clerk)) == 2  # Tuesday 10:00 WIB: one per contact
    frozen.move_to(datetime(2026, 11, 24, 23, 30, tzinfo=JAKARTA))  # the same office day, another clerk
    with pytest.raises(Exception, match="sudah dikirim ke lembaga hari ini pukul 10:00") as refused:
        reminders.send_reminder_now(referral, actor=district.user(SU))
    assert refused.type.__name__ == "IllegalTransition"
    assert len(digests()) == 2 and referral.reminders_sent == 1
    # 06:00 WIB on Wednesday is still Tuesday in UTC: the office day is the local one
    frozen.move_to(datetime(2026, 11, 25, 6, 0, tzinfo=JAKARTA))
    assert len(reminders.send_reminder_now(referral, actor=clerk)) == 2
    assert len(digests()) == 4 and referral.reminders_sent == 2


def test_reminder_now_from_the_list_four_clicks_one_sms_per_contact(app, district, db_session, frozen):
    case = make_case(district)
    referral = referrals.refer(case, service=district.services["bpjs_pbi"], actor=district.user(BO))
    db_session.commit()
    browser = signed_in(app, district, BO)
    pages = []
    for _ in range(4):
        browser.get("/admin/referral/")
        pages.append(browser.post("/admin/referral/action/", {"action": "remind", "rowid": str(referral.id)},
                                  follow_redirects=True))
    rows = db_session.scalars(select(SmsMessage).where(SmsMessage.template_key == "agency_reminder_digest")).all()
    assert len(rows) == 2  # Ani and Bambang, once each
    assert "Pengingat untuk 1 rujukan masuk antrean kirim." in _flashed(pages[0])
    for page in pages[1:]:
        assert (f"{format_code(referral.code)}: Pengingat rujukan ini sudah dikirim ke lembaga hari ini pukul 10:00"
                in _flashed(page))


def test_resume_sending_never_follows_the_referer(app, district, db_session):
    db_session.add(SmsPause(gateway="twilio", code="30002", reason="account suspended"))
    db_session.commit()
    for role in (MA, FO):
        browser = signed_in(app, district, role)
        response = browser.post("/admin/sms/resume", headers={"Referer": "https://evil.example/phish"})
        assert response.status_code == 302
        assert response.headers["Location"] in ("/admin/sms/", "http://localhost/admin/sms/")
