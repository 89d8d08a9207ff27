"""Cases: open, cancel, close, reassign; who may do it and in which unit."""

import pytest
from sqlalchemy import func, select

from fakes.builders import make_case, make_referral, make_resident
from slrt import cases, codes, referrals
from slrt.errors import IllegalTransition, PermissionDenied, ValidationError
from slrt.models import Event, SmsMessage
from slrt.models.enums import CaseStatus, Outcome, ReferralStatus, Role, SmsStatus


def test_open_case_gives_the_resident_a_ticket_by_sms(district, db_session):
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    resident = make_resident(district)
    case = cases.open_case(resident=resident, unit=district.puskesos[0], channel="outreach",
                           summary="  Butuh aktivasi KIS  ", needs=[district.services["bpjs_pbi"]], actor=clerk,
                           urgency="urgent")
    assert case.status == CaseStatus.OPEN and case.summary == "Butuh aktivasi KIS"
    assert case.assignee == clerk and case.opened_by == clerk
    assert len(case.ticket) == 6 and case.ticket.isdigit()
    assert [n.service.code for n in case.needs] == ["bpjs_pbi"]
    [event] = case.events
    assert (event.action, event.to_status, event.actor_staff) == ("open", "open", clerk)
    [message] = db_session.scalars(select(SmsMessage)).all()
    assert message.phone == resident.phone and message.status == SmsStatus.PENDING
    assert f"tiket {case.ticket[:-1]}-{case.ticket[-1]}" in message.body
    assert f"CEK {case.ticket[:-1]}-{case.ticket[-1]}" in message.body
    assert message.body.startswith("SLRT Blora: ") and "(0296) 531234" in message.body
    assert message.segments == 1 and message.dedupe_key == f"case_registered:e{event.id}:r{resident.id}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"summary": " "}, "Tuliskan kebutuhan warga."),
        ({"needs": []}, "Pilih minimal satu layanan"),
        ({"channel": "fax"}, "Pilih saluran"),
    ],
)
def test_open_case_refuses_incomplete_intake(district, db_session, change, message):
    args = dict(resident=make_resident(district), unit=district.puskesos[0], channel="walk_in",
                summary="Butuh KIS", needs=[district.services["bpjs_pbi"]],
                actor=district.user(Role.FRONT_OFFICE, district.puskesos[0]))
    args.update(change)
    before = db_session.scalar(select(func.count()).select_from(Event))
    with pytest.raises(ValidationError, match=message):
        cases.open_case(**args)
    assert db_session.scalar(select(func.count()).select_from(Event)) == before


def test_puskesos_clerk_cannot_open_a_case_for_another_village(district, db_session):
    with pytest.raises(PermissionDenied, match="milik unit lain"):
        make_case(district, unit=district.puskesos[1], actor=district.user(Role.FRONT_OFFICE, district.puskesos[0]))


def test_secretariat_covers_every_puskesos(district, db_session):
    case = make_case(district, unit=district.puskesos[1], actor=district.user(Role.FRONT_OFFICE))
    assert case.unit == district.puskesos[1]


def test_close_needs_a_resolved_case_an_outcome_and_a_supervisor(district, db_session):
    referral = make_referral(district)
    case = referral.case
    supervisor = district.user(Role.SUPERVISOR)
    with pytest.raises(IllegalTransition, match="Tidak dapat menutup: statusnya sedang diproses"):
        cases.close_case(case, outcome="fulfilled", actor=supervisor)
    referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    with pytest.raises(PermissionDenied):
        cases.close_case(case, outcome="fulfilled", actor=district.user(Role.BACK_OFFICE))
    with pytest.raises(ValidationError, match="Pilih hasil penanganan"):
        cases.close_case(case, outcome="happy", actor=supervisor)
    assert case.status == CaseStatus.RESOLVED
    cases.close_case(case, outcome="partial", actor=supervisor, note="KIS aktif, obat belum")
    assert case.status == CaseStatus.CLOSED and case.outcome == Outcome.PARTIAL and case.closed_at
    closed = db_session.scalars(select(SmsMessage).where(SmsMessage.template_key == "case_closed")).all()
    assert len(closed) == 1 and "sudah ditutup" in closed[0].body


def test_cancel_case_cancels_its_open_referrals_with_one_event_each(district, db_session):
    case = make_case(district, services=["bpjs_pbi", "bansos"])
    back_office = district.user(Role.BACK_OFFICE)
    done = referrals.refer(case, service=district.services["bpjs_pbi"], actor=back_office)
    open_one = referrals.refer(case, service=district.services["bansos"], actor=back_office)
    referrals.complete(done, actor=back_office)
    sms_before = db_session.scalar(select(func.count()).select_from(SmsMessage))
    cases.cancel_case(case, reason="Pengaduan ganda dengan tiket lain", actor=district.user(Role.SUPERVISOR))
    assert case.status == CaseStatus.CANCELLED and case.cancelled_at
    assert done.status == ReferralStatus.COMPLETED
    assert open_one.status == ReferralStatus.CANCELLED and open_one.reason == "Pengaduan ganda dengan tiket lain"
    assert [e.action for e in case.events][-2:] == ["cancel", "cancel"]
    # the resident is not sent one SMS per cancelled referral
    assert db_session.scalar(select(func.count()).select_from(SmsMessage)) == sms_before


def test_cancel_case_needs_a_reason_and_oversight(district, db_session):
    case = make_case(district)
    with pytest.raises(PermissionDenied):
        cases.cancel_case(case, reason="ganda", actor=district.user(Role.BACK_OFFICE))
    with pytest.raises(ValidationError, match="Alasan wajib diisi"):
        cases.cancel_case(case, reason="", actor=district.user(Role.SUPERVISOR))
    assert case.status == CaseStatus.OPEN


@pytest.mark.parametrize("final", ["closed", "cancelled"])
def test_ended_cases_cannot_be_cancelled_or_referred(district, db_session, final):
    referral = make_referral(district)
    case = referral.case
    supervisor = district.user(Role.SUPERVISOR)
    if final == "closed":
        referrals.complete(referral, actor=supervisor)
        cases.close_case(case, outcome="fulfilled", actor=supervisor)
    else:
        cases.cancel_case(case, reason="ditarik warga", actor=supervisor)
    with pytest.raises(IllegalTransition):
        cases.cancel_case(case, reason="lagi", actor=supervisor)
    with pytest.raises(IllegalTransition):
        referrals.refer(case, service=district.services["bansos"], actor=supervisor)


def test_new_referral_on_a_resolved_case_reopens_it(district, db_session):
    case = make_case(district, services=["bpjs_pbi", "bansos"])
    back_office = district.user(Role.BACK_OFFICE)
    referrals.complete(referrals.refer(case, service=district.services["bpjs_pbi"], actor=back_office),
                       actor=back_office)
    assert case.status == CaseStatus.RESOLVED
    referrals.refer(case, service=district.services["bansos"], actor=back_office)
    assert case.status == CaseStatus.IN_PROGRESS


def test_reassign_within_the_units_that_cover_the_case(district, db_session):
    case = make_case(district)
    supervisor = district.user(Role.SUPERVISOR)
    facilitator = district.user(Role.FACILITATOR, district.puskesos[0])
    cases.reassign_case(case, assignee=facilitator, actor=supervisor)
    assert case.assignee == facilitator
    assert case.events[-1].action == "reassign" and case.events[-1].from_status is None
    with pytest.raises(ValidationError, match="tidak dapat menangani kasus ini"):
        cases.reassign_case(case, assignee=district.user(Role.FACILITATOR, district.puskesos[1]), actor=supervisor)
    with pytest.raises(PermissionDenied, match="Hanya supervisor atau manajer"):
        cases.reassign_case(case, assignee=facilitator, actor=district.user(Role.BACK_OFFICE))


def test_inactive_staff_cannot_act(district, db_session):
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    clerk.active = False
    with pytest.raises(PermissionDenied, match="Akun ini tidak aktif"):
        make_case(district, actor=clerk)


def test_case_ticket_and_referral_codes_never_collide(district, db_session):
    referral = make_referral(district)
    assert codes.code_taken(referral.code) and codes.code_taken(referral.case.ticket)
    assert referral.code != referral.case.ticket


def _answer(referral, move, actor):
    if move == "complete":
        referrals.complete(referral, actor=actor)
    elif move == "reject":
        referrals.reject(referral, reason="Tidak memenuhi syarat", actor=actor)
    else:
        referrals.cancel_referral(referral, reason="Salah lembaga", actor=actor)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"bpjs_pbi": ["complete"], "bansos": ["complete"]}, Outcome.FULFILLED),
        ({"bpjs_pbi": ["complete"], "bansos": ["reject"]}, Outcome.PARTIAL),
        ({"bpjs_pbi": ["complete"], "bansos": ["cancel"]}, Outcome.PARTIAL),
        ({"bpjs_pbi": ["complete"]}, Outcome.PARTIAL),  # the other need was never referred
        ({"bpjs_pbi": ["reject"], "bansos": ["cancel"]}, Outcome.UNFULFILLED),
        ({"bpjs_pbi": ["reject", "complete"], "bansos": ["complete"]}, Outcome.FULFILLED),  # referred again, met
    ],
)
def test_suggested_outcome_follows_the_referrals(district, db_session, answers, expected):
    case = make_case(district, services=["bpjs_pbi", "bansos"])
    back_office = district.user(Role.BACK_OFFICE)
    for service, moves in answers.items():
        for move in moves:
            _answer(referrals.refer(case, service=district.services[service], actor=back_office,
                                    confirm_duplicate=True), move, back_office)
    if "bansos" not in answers:
        assert case.status == CaseStatus.RESOLVED
    assert cases.suggested_outcome(case) == expected
    assert expected == Outcome.FULFILLED or cases.suggested_outcome(case) != Outcome.FULFILLED


def test_a_rejected_referral_never_suggests_fulfilled(district, db_session):
    referral = make_referral(district)
    referrals.reject(referral, reason="Bukan wewenang kami", actor=district.user(Role.BACK_OFFICE))
    assert referral.case.status == CaseStatus.RESOLVED
    assert cases.suggested_outcome(referral.case) == Outcome.UNFULFILLED
    assert set(cases.OUTCOME_HELP) == set(Outcome)  # every choice explains itself


def test_a_second_complaint_goes_to_the_open_case_unless_the_clerk_opens_a_new_one(district, db_session):
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    first = make_case(district)
    resident = first.resident
    assert cases.open_cases_of(resident, clerk) == [first]
    complaint = dict(resident=resident, unit=district.puskesos[0], channel="phone", summary="Butuh bantuan sembako",
                     needs=[district.services["bansos"], district.services["bpjs_pbi"]], actor=clerk)
    sms_before = db_session.scalar(select(func.count()).select_from(SmsMessage))
    with pytest.raises(ValidationError, match="masih punya kasus terbuka") as refused:
        cases.take_complaint(choice=None, **complaint)
    assert refused.value.field == "case_choice"
    case, opened = cases.take_complaint(choice=str(first.id), **complaint)
    assert (case, opened) == (first, False)
    assert sorted(n.service.code for n in first.needs) == ["bansos", "bpjs_pbi"]  # the new need joined once
    assert first.events[-1].action == "complaint" and "Butuh bantuan sembako" in first.events[-1].note
    assert db_session.scalar(select(func.count()).select_from(SmsMessage)) == sms_before  # the ticket is known
    second, opened = cases.take_complaint(choice=cases.NEW_CASE, **complaint)
    assert opened and second != first and second.status == CaseStatus.OPEN


def test_a_closed_case_takes_no_more_complaints(district, db_session):
    referral = make_referral(district)
    supervisor = district.user(Role.SUPERVISOR)
    referrals.complete(referral, actor=supervisor)
    cases.close_case(referral.case, outcome="fulfilled", actor=supervisor)
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    assert cases.open_cases_of(referral.case.resident, clerk) == []
    with pytest.raises(IllegalTransition):
        cases.add_complaint(referral.case, summary="lagi", needs=[district.services["bansos"]], channel="walk_in",
                            actor=clerk)


def test_closing_and_cancelling_say_what_will_happen(district, db_session):
    case = make_case(district, services=["bpjs_pbi", "bansos"])
    back_office, supervisor = district.user(Role.BACK_OFFICE), district.user(Role.SUPERVISOR)
    open_one = referrals.refer(case, service=district.services["bpjs_pbi"], actor=back_office)
    said = " ".join(cases.cancel_consequences(case, reason="Pengaduan ganda", actor=supervisor))
    assert codes.format_code(open_one.code) in said and "Tidak ada SMS" in said
    with pytest.raises(ValidationError, match="Alasan wajib diisi"):
        cases.cancel_consequences(case, reason="", actor=supervisor)
    referrals.complete(open_one, actor=back_office)
    phone = case.resident.phone
    said = " ".join(cases.close_consequences(case, outcome="fulfilled", actor=supervisor))
    assert f"SMS ke warga (0812****{phone[-4:]})" in said and "tidak dapat dibuka lagi" in said
    assert 'Menurut hasil rujukan: "sebagian terpenuhi"' in said  # bansos was never referred
    with pytest.raises(PermissionDenied):
        cases.close_consequences(case, outcome="partial", actor=back_office)
    assert case.status == CaseStatus.RESOLVED  # nothing changed
