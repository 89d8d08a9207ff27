"""Every referral transition and every refusal, through the real domain functions."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fakes.builders import make_case, make_referral, make_resident
from slrt import cases, outbox, referrals
from slrt.access import ResidentPhone
from slrt.errors import DomainError, IllegalTransition, PermissionDenied, ValidationError
from slrt.models import Event, Referral, SmsMessage
from slrt.models.enums import CaseStatus, PhoneOwner, ReferralStatus, Role, SmsAudience, SmsStatus


def counts(db_session):
    return (
        db_session.scalar(select(func.count()).select_from(Event)),
        db_session.scalar(select(func.count()).select_from(SmsMessage)),
    )


def sms(db_session, key, **where):
    query = select(SmsMessage).where(SmsMessage.template_key == key)
    for name, value in where.items():
        query = query.where(getattr(SmsMessage, name) == value)
    return list(db_session.scalars(query.order_by(SmsMessage.id)))


def test_refer_sets_due_date_and_tells_resident_and_agency(district, db_session):
    back_office = district.user(Role.BACK_OFFICE)
    case = make_case(district)
    referral = referrals.refer(case, service=district.services["bpjs_pbi"], actor=back_office,
                               documents_checked=["sktm", "kk"])

    assert referral.status == ReferralStatus.SENT
    assert referral.agency == district.agencies["bpjs"]  # the service's default
    assert referral.due_at.isoformat() == "2026-12-01T16:59:59+00:00"  # Tue 24 Nov + 5 working days
    assert case.status == CaseStatus.IN_PROGRESS
    assert [e.action for e in case.events] == ["open", "refer", "start"]
    assert referral.documents_checked == ["sktm", "kk"]

    to_resident = sms(db_session, "referral_made")
    assert len(to_resident) == 1
    body = to_resident[0].body
    assert referral.code[:-1] + "-" + referral.code[-1] in body
    assert "BPJS Blora" in body and "Jl. Pemuda 21 Blora" in body
    assert "SKTM, fc KK, fc KTP, map" in body and "1 Des 2026" in body
    assert to_resident[0].status == SmsStatus.PENDING and to_resident[0].segments == 1
    assert to_resident[0].expected_status == "sent"
    # the agency's two active contacts, not the inactive one
    to_agency = sms(db_session, "agency_new_referral")
    assert sorted(m.phone for m in to_agency) == ["+6281225550101", "+6281225550102"]
    assert all(m.audience == SmsAudience.AGENCY and "TERIMA" in m.body for m in to_agency)


def test_front_office_may_not_refer(district, db_session):
    case = make_case(district)
    before = counts(db_session)
    with pytest.raises(PermissionDenied, match="Peran Anda tidak boleh merujuk"):
        referrals.refer(case, service=district.services["bpjs_pbi"], actor=district.user(Role.FRONT_OFFICE))
    assert counts(db_session) == before


def test_unknown_document_is_refused(district, db_session):
    case = make_case(district)
    with pytest.raises(ValidationError, match="Bukan dokumen persyaratan layanan ini: akta"):
        referrals.refer(case, service=district.services["bpjs_pbi"], actor=district.user(Role.BACK_OFFICE),
                        documents_checked=["akta"])
    assert case.referrals == []


def test_agency_contact_accepts_its_own_referral(district, db_session):
    referral = make_referral(district)
    contact = district.agencies["bpjs"].contacts[0]
    referrals.accept(referral, actor=contact)
    assert referral.status == ReferralStatus.ACCEPTED and referral.accepted_at is not None
    event = referral.case.events[-1]
    assert (event.action, event.from_status, event.to_status) == ("accept", "sent", "accepted")
    assert event.actor_contact == contact and event.actor_phone == contact.phone and event.actor_staff is None


def test_contact_of_another_agency_or_inactive_is_refused(district, db_session):
    referral = make_referral(district)
    before = counts(db_session)
    with pytest.raises(PermissionDenied, match="Rujukan ini dikirim ke lembaga lain"):
        referrals.accept(referral, actor=district.agencies["baznas"].contacts[0])
    with pytest.raises(PermissionDenied, match="Akun ini tidak aktif"):
        referrals.accept(referral, actor=district.agencies["bpjs"].contacts[2])
    assert referral.status == ReferralStatus.SENT
    assert counts(db_session) == before


def test_in_process_is_an_event_that_accepts_first(district, db_session):
    referral = make_referral(district)
    referrals.mark_in_process(referral, actor=district.agencies["bpjs"].contacts[0], note="berkas diverifikasi")
    assert referral.status == ReferralStatus.ACCEPTED
    assert referral.in_process_at is not None
    assert [e.action for e in referral.case.events][-2:] == ["accept", "in_process"]
    referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    with pytest.raises(IllegalTransition, match="statusnya selesai"):
        referrals.mark_in_process(referral, actor=district.agencies["bpjs"].contacts[0])


def test_complete_last_referral_resolves_case_and_tells_resident(district, db_session):
    case = make_case(district, services=["bpjs_pbi", "bansos"])
    back_office = district.user(Role.BACK_OFFICE)
    first = referrals.refer(case, service=district.services["bpjs_pbi"], actor=back_office)
    second = referrals.refer(case, service=district.services["bansos"], actor=back_office)
    referrals.complete(first, actor=back_office, note="KIS aktif kembali")
    assert case.status == CaseStatus.IN_PROGRESS  # one still open
    assert first.accepted_at == first.completed_at  # completed straight from sent
    assert first.completion_note == "KIS aktif kembali"
    referrals.reject(second, actor=district.agencies["baznas"].contacts[0], reason="Kuota bulan ini habis")
    assert case.status == CaseStatus.RESOLVED and case.resolved_at is not None
    assert case.events[-1].action == "resolve" and case.events[-1].actor_staff is None
    assert len(sms(db_session, "referral_completed")) == 1
    rejected = sms(db_session, "referral_rejected")
    assert len(rejected) == 1 and "Kuota bulan ini habis" in rejected[0].body


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reject_and_cancel_need_a_reason(district, db_session, reason):
    referral = make_referral(district)
    before = counts(db_session)
    with pytest.raises(ValidationError, match="Alasan wajib diisi"):
        referrals.reject(referral, reason=reason, actor=district.user(Role.BACK_OFFICE))
    with pytest.raises(ValidationError, match="Alasan wajib diisi"):
        referrals.cancel_referral(referral, reason=reason, actor=district.user(Role.BACK_OFFICE))
    assert referral.status == ReferralStatus.SENT and counts(db_session) == before


def test_agency_cannot_cancel_but_staff_can(district, db_session):
    referral = make_referral(district)
    with pytest.raises(PermissionDenied):
        referrals.cancel_referral(referral, reason="salah", actor=district.agencies["bpjs"].contacts[0])
    referrals.cancel_referral(referral, reason="Salah lembaga", actor=district.user(Role.BACK_OFFICE))
    assert referral.status == ReferralStatus.CANCELLED and referral.reason == "Salah lembaga"
    assert len(sms(db_session, "referral_cancelled")) == 1
    assert referral.case.status == CaseStatus.RESOLVED


def test_reopen_puts_the_case_back_in_progress_with_a_new_due_date(district, db_session, frozen):
    referral = make_referral(district)
    back_office = district.user(Role.BACK_OFFICE)
    referrals.complete(referral, actor=back_office)
    assert referral.case.status == CaseStatus.RESOLVED
    frozen.move_to("2026-12-07T02:00:00+00:00")  # Monday two weeks later
    resident_phone = ResidentPhone(referral.case.resident.phone)
    referrals.reopen(referral, actor=resident_phone, note="Kartu belum diterima")
    assert referral.status == ReferralStatus.SENT and referral.reopened_count == 1
    assert referral.sent_at.isoformat() == "2026-11-24T03:00:00+00:00"  # the first sending stays
    assert referral.reopened_at.isoformat() == "2026-12-07T02:00:00+00:00"
    assert referral.completed_at is None and referral.accepted_at is None
    assert referral.due_at.isoformat() == "2026-12-14T16:59:59+00:00"
    assert referral.case.status == CaseStatus.IN_PROGRESS
    reopen, start = referral.case.events[-2:]
    assert (reopen.action, reopen.actor_phone) == ("reopen", referral.case.resident.phone)
    assert start.action == "start"


def test_reopen_from_another_phone_is_refused(district, db_session):
    referral = make_referral(district)
    referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    with pytest.raises(PermissionDenied, match="bukan nomor yang terdaftar"):
        referrals.reopen(referral, actor=ResidentPhone("+6281399999999"))
    assert referral.status == ReferralStatus.COMPLETED


def test_reopen_refused_once_the_case_is_closed(district, db_session):
    referral = make_referral(district)
    referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    cases.close_case(referral.case, outcome="fulfilled", actor=district.user(Role.SUPERVISOR))
    with pytest.raises(IllegalTransition, match="Kasus sudah ditutup; buka kasus baru"):
        referrals.reopen(referral, actor=district.user(Role.BACK_OFFICE))


# Every move from every state it is not allowed from: refused, nothing written.
ILLEGAL = [
    ("accept", "accepted"), ("accept", "completed"), ("accept", "rejected"), ("accept", "cancelled"),
    ("complete", "completed"), ("complete", "rejected"), ("complete", "cancelled"),
    ("reject", "completed"), ("reject", "rejected"), ("reject", "cancelled"),
    ("cancel", "completed"), ("cancel", "rejected"), ("cancel", "cancelled"),
    ("reopen", "sent"), ("reopen", "accepted"), ("reopen", "rejected"), ("reopen", "cancelled"),
]

_TO_STATE = {
    "sent": [],
    "accepted": [("accept", {})],
    "completed": [("complete", {})],
    "rejected": [("reject", {"reason": "Tidak memenuhi syarat"})],
    "cancelled": [("cancel_referral", {"reason": "Ganda"})],
}

_CALL = {
    "accept": lambda r, a: referrals.accept(r, actor=a),
    "complete": lambda r, a: referrals.complete(r, actor=a),
    "reject": lambda r, a: referrals.reject(r, actor=a, reason="alasan"),
    "cancel": lambda r, a: referrals.cancel_referral(r, actor=a, reason="alasan"),
    "reopen": lambda r, a: referrals.reopen(r, actor=a),
}


@pytest.mark.parametrize(("move", "state"), ILLEGAL)
def test_illegal_referral_moves_change_nothing(district, db_session, move, state):
    back_office = district.user(Role.BACK_OFFICE)
    case = make_case(district, services=["bpjs_pbi", "bansos"])
    referral = referrals.refer(case, service=district.services["bpjs_pbi"], actor=back_office)
    referrals.refer(case, service=district.services["bansos"], actor=back_office)  # keeps the case going
    for name, kwargs in _TO_STATE[state]:
        getattr(referrals, name)(referral, actor=back_office, **kwargs)
    assert referral.status == state
    before, version = counts(db_session), referral.version
    with pytest.raises(IllegalTransition):
        _CALL[move](referral, back_office)
    db_session.flush()
    assert referral.status == state and referral.version == version
    assert counts(db_session) == before


def test_a_failure_after_the_event_was_written_leaves_nothing(district, db_session, monkeypatch):
    referral = make_referral(district)
    before = counts(db_session)

    def broken(*args, **kwargs):
        raise RuntimeError("template store down")

    monkeypatch.setattr(outbox, "notify_resident", broken)
    with pytest.raises(RuntimeError):
        referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    assert referral.status == ReferralStatus.SENT
    assert referral.case.status == CaseStatus.IN_PROGRESS
    assert counts(db_session) == before


def test_duplicate_referral_in_another_unit_warns_then_allows(district, db_session):
    resident = make_resident(district)
    first_case = make_case(district, resident, unit=district.puskesos[0])
    make_referral(district, first_case)
    second_case = make_case(district, resident, unit=district.puskesos[1])
    with pytest.raises(referrals.DuplicateReferral, match="sudah dirujuk untuk warga ini oleh Puskesos Jepon") as err:
        make_referral(district, second_case)
    assert [r.case for r in err.value.existing] == [first_case]
    assert second_case.referrals == [] and second_case.status == CaseStatus.OPEN
    make_referral(district, second_case, confirm_duplicate=True)
    assert len(second_case.referrals) == 1


def test_duplicate_warning_ignores_ended_referrals(district, db_session):
    resident = make_resident(district)
    old = make_referral(district, make_case(district, resident))
    referrals.complete(old, actor=district.user(Role.BACK_OFFICE))
    make_referral(district, make_case(district, resident))  # no warning


def test_puskesos_staff_cannot_answer_for_another_village(district, db_session):
    referral = make_referral(district)  # a case of Puskesos Jepon
    other = district.user(Role.BACK_OFFICE, district.puskesos[1])
    with pytest.raises(PermissionDenied, match=r"Kasus ini milik unit lain \(Puskesos Jepon\)"):
        referrals.accept(referral, actor=other)
    own = district.user(Role.BACK_OFFICE, district.puskesos[0])
    referrals.accept(referral, actor=own)


def test_sms_to_a_neighbours_phone_is_discreet(district, db_session):
    resident = make_resident(district, phone_owner=PhoneOwner.NEIGHBOUR)
    make_referral(district, make_case(district, resident))
    [message] = sms(db_session, "referral_made.proxy")
    assert "Siti" in message.body and "Aktivasi BPJS PBI" not in message.body
    assert sms(db_session, "referral_made") == []


def test_resident_without_phone_gets_no_sms_but_agency_does(district, db_session):
    resident = make_resident(district, phone=None)
    make_referral(district, make_case(district, resident))
    assert db_session.scalar(
        select(func.count()).select_from(SmsMessage).where(SmsMessage.audience == SmsAudience.RESIDENT)
    ) == 0
    assert len(sms(db_session, "agency_new_referral")) == 2


def test_overdue_is_derived_from_the_due_date(district, db_session, frozen):
    referral = make_referral(district)

    def in_sql() -> bool:  # the same hybrid property, as the list filter and the dashboard ask it
        return db_session.scalar(select(Referral.id).where(Referral.id == referral.id, Referral.is_overdue)) is not None

    assert not referral.is_overdue and not in_sql()
    frozen.move_to(referral.due_at + timedelta(seconds=1))
    assert referral.is_overdue and in_sql()
    referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    assert not referral.is_overdue and not in_sql()


def test_domain_errors_speak_english_when_asked(app, district, db_session):
    referral = make_referral(district)
    referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    with app.test_request_context("/?lang=en"):
        with pytest.raises(DomainError, match="Cannot accept: it is completed."):
            referrals.accept(referral, actor=district.user(Role.BACK_OFFICE))


def test_missing_documents_are_what_was_not_ticked(district, db_session):
    case = make_case(district)
    referral = referrals.refer(case, service=district.services["bpjs_pbi"], actor=district.user(Role.BACK_OFFICE),
                               documents_checked=["kk", "sktm"])
    assert [d.code for d in referrals.missing_documents(referral)] == ["ktp", "map"]  # in the catalogue's order
    assert [d.code for d in referrals.unticked_documents(district.services["bansos"], ["sktm"])] == []
    assert [d.code for d in referrals.unticked_documents(district.services["bansos"], [])] == ["sktm"]


def test_reject_and_cancel_say_what_will_happen_first(district, db_session):
    referral = make_referral(district)
    back_office = district.user(Role.BACK_OFFICE)
    before = counts(db_session)
    said = " ".join(referrals.move_consequences(referral, "reject", actor=back_office, note="Kuota habis"))
    phone = referral.case.resident.phone
    assert "ditolak oleh BPJS Kesehatan Cabang Blora; alasan: Kuota habis" in said
    assert f"SMS ke warga (0812****{phone[-4:]})" in said and phone not in said
    assert "kasus menjadi selesai ditangani" in said  # it was the case's only open referral
    with pytest.raises(ValidationError, match="Alasan wajib diisi"):
        referrals.move_consequences(referral, "cancel", actor=back_office, note="")
    with pytest.raises(PermissionDenied):
        referrals.move_consequences(referral, "cancel", actor=district.user(Role.FRONT_OFFICE), note="salah")
    assert counts(db_session) == before and referral.status == ReferralStatus.SENT


def test_confirmation_names_whose_phone_gets_the_sms(district, db_session):
    resident = make_resident(district, phone_owner=PhoneOwner.RT_RW_HEAD)
    referral = make_referral(district, make_case(district, resident))
    said = " ".join(referrals.move_consequences(referral, "cancel", actor=district.user(Role.BACK_OFFICE),
                                                note="Salah lembaga"))
    assert "SMS ke Pak RT Sutrisno, nomor titipan warga (0812****" in said
    resident.phone = None
    said = " ".join(referrals.move_consequences(referral, "cancel", actor=district.user(Role.BACK_OFFICE),
                                                note="Salah lembaga"))
    assert "Tidak ada SMS: warga tidak punya nomor HP" in said


def test_documents_brought_later_are_ticked_and_noted(district, db_session):
    referral = referrals.refer(make_case(district), service=district.services["bpjs_pbi"],
                               actor=district.user(Role.BACK_OFFICE), documents_checked=["sktm"])
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    brought = referrals.record_documents(referral, ["ktp", "kk"], actor=clerk)
    assert [d.code for d in brought] == ["kk", "ktp"]
    assert referral.documents_checked == ["sktm", "kk", "ktp"]
    assert [d.code for d in referrals.missing_documents(referral)] == ["map"]
    assert referral.case.events[-1].action == "documents" and "Fotokopi KTP/KIA" in referral.case.events[-1].note
    with pytest.raises(ValidationError, match="Centang dokumen"):
        referrals.record_documents(referral, ["kk"], actor=clerk)  # already there
    with pytest.raises(ValidationError):
        referrals.record_documents(referral, ["akta"], actor=clerk)
    referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    with pytest.raises(IllegalTransition):
        referrals.record_documents(referral, ["map"], actor=clerk)
