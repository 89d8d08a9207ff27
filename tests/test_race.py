"""Two moves of one referral at once: exactly one wins, the other is refused cleanly.

On PostgreSQL the transition locks the row (SELECT ... FOR UPDATE); the loser waits, then
sees the winner's state. This needs real concurrent connections, so the data is committed
(and removed afterwards) instead of living in a rolled-back test transaction.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from slrt import referrals
from slrt.errors import DomainError
from slrt.extensions import db
from slrt.models import (
    Agency,
    AgencyContact,
    Case,
    CaseNeed,
    Document,
    Event,
    Household,
    Referral,
    Region,
    Resident,
    Service,
    SmsMessage,
    Staff,
    Unit,
    service_document,
)
from slrt.models.enums import Role
from slrt.models.letters import ReferralLetter
from slrt.models.org import unit_village
from slrt.models.people import ResidentNameWord


@pytest.fixture
def committed_district(app, is_postgres):
    if not is_postgres:
        pytest.skip("row-lock race needs PostgreSQL (TEST_DATABASE_URL)")
    from fakes.builders import make_district, make_referral

    with app.app_context():
        district = make_district()
        referral = make_referral(district)
        db.session.commit()
        ids = {"referral": referral.id, "back_office": district.user(Role.BACK_OFFICE).id,
               "contact": district.agencies["bpjs"].contacts[0].id}
        db.session.remove()
    yield ids
    with app.app_context():
        for model in (SmsMessage, Event, ReferralLetter, Referral, CaseNeed, Case, ResidentNameWord, Resident,
                      Household, service_document, Service,
                      Document, AgencyContact, Agency, Staff):
            db.session.execute(delete(model))
        db.session.execute(delete(unit_village))
        db.session.execute(delete(Unit).where(Unit.parent_id.is_not(None)))
        db.session.execute(delete(Unit))
        for level in ("village", "district", "regency", "province"):
            db.session.execute(delete(Region).where(Region.level == level))
        db.session.commit()


@pytest.mark.postgres
@pytest.mark.parametrize("moves", [("complete", "reject"), ("accept", "accept"), ("complete", "cancel")])
def test_two_concurrent_transitions_exactly_one_wins(app, committed_district, moves):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(move: str, who: str) -> None:
        with app.app_context():
            referral = db.session.get(Referral, committed_district["referral"])
            actor = (db.session.get(AgencyContact, committed_district["contact"]) if who == "contact"
                     else db.session.get(Staff, committed_district["back_office"]))
            barrier.wait()
            try:
                if move == "complete":
                    referrals.complete(referral, actor=actor)
                elif move == "reject":
                    referrals.reject(referral, actor=actor, reason="bersamaan")
                elif move == "cancel":
                    referrals.cancel_referral(referral, actor=actor, reason="bersamaan")
                else:
                    referrals.accept(referral, actor=actor)
                db.session.commit()
                outcomes.append("won")
            except DomainError:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=act, args=(moves[0], "staff")),
               threading.Thread(target=act, args=(moves[1], "contact" if moves[1] != "cancel" else "staff"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["refused", "won"]
    with app.app_context():
        rid = committed_district["referral"]
        answers = db.session.scalar(
            select(func.count()).select_from(Event).where(Event.referral_id == rid, Event.action != "refer"))
        assert answers == 1  # the loser left no event behind
