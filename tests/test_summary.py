"""The dashboard's tallies (kept by triggers, migration 0010) agree with a recount from the rows."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update

from fakes.builders import make_case, make_referral
from slrt import cases, clock, referrals, reports
from slrt.extensions import db
from slrt.models import Case, CaseTally, FollowUp, Referral, ReferralTally
from slrt.models.enums import REFERRAL_ACTIVE, CaseStatus, EscalationRung, FollowUpStatus, Role


def _tallies() -> tuple[Counter, Counter]:
    """The tallies as they stand (a count that reaches zero loses its row)."""
    return (Counter({(t.unit_id, t.status): t.cases for t in db.session.scalars(select(CaseTally))}),
            Counter({(t.unit_id, t.agency_id, t.status): (t.referrals, t.escalated)
                     for t in db.session.scalars(select(ReferralTally))}))


def _recount() -> tuple[Counter, Counter]:
    """The same figures counted from the case and referral rows."""
    case_counts = Counter({(unit_id, str(status)): n for unit_id, status, n in db.session.execute(
        select(Case.unit_id, Case.status, func.count()).group_by(Case.unit_id, Case.status))})
    referral_counts = Counter({(unit_id, agency_id, str(status)): (n, escalated)
                               for unit_id, agency_id, status, n, escalated in db.session.execute(
        select(Case.unit_id, Referral.agency_id, Referral.status, func.count(), func.count(Referral.escalated_at))
        .join(Referral.case).group_by(Case.unit_id, Referral.agency_id, Referral.status))})
    return case_counts, referral_counts


def _headline_from_rows(unit_ids) -> dict[str, int]:
    """The headline as the dashboard counted it before the tallies: every row, every time."""
    def seen(unit_id) -> bool:
        return unit_ids is None or unit_id in unit_ids

    found = [r for r in db.session.scalars(select(Referral)) if seen(r.case.unit_id)]
    active = [r for r in found if r.status in REFERRAL_ACTIVE]
    open_cases = [c for c in db.session.scalars(select(Case))
                  if c.status in (CaseStatus.OPEN, CaseStatus.IN_PROGRESS) and seen(c.unit_id)]
    follow_ups = [f for f in db.session.scalars(select(FollowUp))
                  if f.status == FollowUpStatus.OPEN and seen(f.unit_id)]
    return {"open_cases": len(open_cases), "active_referrals": len(active),
            "overdue_referrals": sum(r.due_at < clock.now() for r in active),
            "escalated_referrals": sum(r.escalated_at is not None for r in active),
            "unverified_referrals": sum(bool(r.is_unverified) for r in found), "open_follow_ups": len(follow_ups)}


def _per_agency_from_rows(unit_ids) -> list[tuple[str, int, int]]:
    rows: dict[str, list[int]] = {}
    for r in db.session.scalars(select(Referral)):
        if r.status in REFERRAL_ACTIVE and (unit_ids is None or r.case.unit_id in unit_ids):
            row = rows.setdefault(r.agency.name, [0, 0])
            row[0] += 1
            row[1] += r.due_at < clock.now()
    return sorted(((name, n, late) for name, (n, late) in rows.items()), key=lambda r: (-r[2], -r[1], r[0]))


def _check(district) -> None:
    db.session.flush()
    assert _tallies() == _recount()
    for unit_ids in (None, [district.puskesos[0].id], [district.puskesos[1].id], [u.id for u in district.puskesos]):
        assert reports.headline(unit_ids) == _headline_from_rows(unit_ids), unit_ids
        assert reports.referrals_per_agency(unit_ids) == _per_agency_from_rows(unit_ids), unit_ids


def test_tallies_follow_every_move_and_match_a_recount(district, db_session, frozen):
    back, boss = district.user(Role.BACK_OFFICE), district.user(Role.SUPERVISOR)
    here, there = district.puskesos
    _check(district)

    sent = make_referral(district)
    accepted = referrals.accept(make_referral(district, service="bansos"), actor=back)
    done = referrals.complete(make_referral(district), actor=back)
    rejected = referrals.reject(make_referral(district), reason="Bukan wewenang kami", actor=back)
    cancelled = referrals.cancel_referral(make_referral(district, service="bansos"), reason="Ganda", actor=boss)
    elsewhere = make_referral(district, make_case(district, unit=there), service="bansos")
    bare = make_case(district, unit=there)
    _check(district)

    referrals.reopen(done, actor=back)
    referrals.complete(accepted, actor=back)
    cases.close_case(accepted.case, outcome="fulfilled", actor=boss)
    cases.cancel_case(bare, reason="Pengaduan ganda", actor=boss)
    cases.reassign_case(sent.case, assignee=district.user(Role.BACK_OFFICE, here), actor=boss)
    _check(district)

    # Escalated, then a week later most are overdue.
    sent.escalated_at, sent.escalation_rung = clock.now(), EscalationRung.AGENCY_HEAD
    frozen.move_to(clock.now() + timedelta(days=8))
    make_referral(district, make_case(district, unit=there))  # due in the future
    _check(district)

    # A case moved to the other unit (an office merger, an import) carries its referrals' counts.
    sent.case.unit = there
    _check(district)
    db.session.execute(update(Case).where(Case.id == elsewhere.case_id).values(unit_id=here.id))
    db.session.expire_all()
    _check(district)
    # Bulk SQL (an import, a clean-up) over many rows in one statement.
    db.session.execute(update(Referral).where(Referral.status.in_(REFERRAL_ACTIVE))
                       .values(status="cancelled", escalated_at=None, escalation_rung=0))
    db.session.execute(update(Case).values(unit_id=there.id))
    db.session.expire_all()
    _check(district)
    assert {rejected.status, cancelled.status} == {"rejected", "cancelled"}


def test_rebuild_summary_recounts_the_tallies(district, db_session):
    make_referral(district)
    referrals.accept(make_referral(district, service="bansos"), actor=district.user(Role.BACK_OFFICE))
    db.session.execute(update(CaseTally).values(cases=99))
    db.session.execute(update(ReferralTally).values(referrals=0, escalated=7))
    reports.rebuild_summary()
    assert _tallies() == _recount()
    assert sum(_tallies()[0].values()) == 2
