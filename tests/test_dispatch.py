"""Send tasks are queued once, after the outermost commit: never at a SAVEPOINT, never after a rollback.

SQLAlchemy fires ``after_commit`` when a SAVEPOINT is released too, and every domain
function runs in ``begin_nested()``: a dispatcher that trusted the event queued tasks for
rows the workers could not see yet (or ever, after a rollback).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

import tasks.outbox
from fakes.builders import make_case, make_nik
from fakes.pipeline import Pipeline, wait_for
from slrt import outbox
from slrt.extensions import db
from slrt.models import Case, Resident, SmsMessage
from slrt.models.enums import Role, SmsAudience


@pytest.fixture
def queued(app, monkeypatch):
    """The ids handed to the broker, one list per queue_send call (dispatch on for this test)."""
    calls: list[list[int]] = []
    monkeypatch.setattr(tasks.outbox, "queue_send", lambda ids: calls.append(list(ids)))
    monkeypatch.setitem(app.config, "SLRT_SMS_DISPATCH", True)
    return calls


def _notice(case: Case, tag: str) -> SmsMessage:
    return outbox.queue(audience=SmsAudience.RESIDENT, phone=case.resident.phone, key="case_registered",
                        language="id", context=outbox.common_context(case), dedupe_key=f"dispatch:{tag}",
                        resident=case.resident, case=case)


def test_a_domain_change_is_queued_at_the_commit_not_when_its_savepoint_is_released(district, db_session,
                                                                                    queued):
    case = make_case(district)  # open_case: its own begin_nested(), released before we commit
    assert queued == []
    db_session.commit()
    notice = db_session.scalar(select(SmsMessage).where(SmsMessage.case_id == case.id))
    assert queued == [[notice.id]]


def test_a_rolled_back_change_queues_nothing(district, db_session, queued):
    make_case(district)
    db_session.rollback()
    db_session.commit()  # a later, empty commit does not find the rolled-back ids either
    assert queued == []


def test_several_savepoints_queue_each_surviving_id_once(district, db_session, queued):
    case = make_case(district)
    db_session.commit()
    queued.clear()
    outer = _notice(case, "outer")
    with db_session.begin_nested():
        kept = _notice(case, "kept")
        with db_session.begin_nested():
            nested = _notice(case, "nested-kept")
    failed = db_session.begin_nested()
    _notice(case, "gone")
    db_session.flush()
    failed.rollback()  # a failed step: its row is gone, the outer transaction's rows stay
    with db_session.begin_nested():
        late = _notice(case, "late")
    assert queued == []
    db_session.commit()
    assert queued == [sorted([outer.id, kept.id, nested.id, late.id])]
    assert db_session.scalar(select(SmsMessage).where(SmsMessage.dedupe_key == "dispatch:gone")) is None


def test_a_failed_savepoint_does_not_forget_what_the_transaction_queued_before_it(district, db_session, queued):
    case = make_case(district)
    db_session.commit()
    queued.clear()
    first = _notice(case, "before")
    db_session.flush()
    savepoint = db_session.begin_nested()
    _notice(case, "inside")
    db_session.flush()
    savepoint.rollback()
    db_session.commit()
    assert queued == [[first.id]]


@pytest.mark.slow
def test_a_notice_committed_through_the_screens_reaches_the_provider_within_two_seconds(tmp_path,
                                                                                        pipeline_database):
    """No beat, no sweep: only the task queued at the commit can carry the notice to Twilio.

    The request takes half a second more after the domain call: a task queued when its
    SAVEPOINT was released would reach the worker before the commit, find no row (on
    PostgreSQL) and never be sent.
    """
    from fakes.builders import make_district
    from tests.web import Browser

    with Pipeline(tmp_path, database_url=pipeline_database, settings={"SLRT_SWEEP_SECONDS": "3600"}) as pipeline:
        with pipeline.app.app_context():
            pipeline.app.config["SLRT_SMS_DISPATCH"] = False
            district = make_district()
            db.session.commit()
            clerk_name = district.user(Role.FRONT_OFFICE, district.puskesos[0]).username
            village_id, unit_id = district.villages[0].id, district.puskesos[0].id
            service_id = district.services["bpjs_pbi"].id
            pipeline.app.config["SLRT_SMS_DISPATCH"] = True
            db.session.remove()
        pipeline.worker()
        wait_for(lambda: "ready" in pipeline.log("worker"), 60, "the worker to start", pipeline.diagnosis)
        clerk = Browser(pipeline.app)
        clerk.login(clerk_name)
        clerk.get("/admin/intake/")

        def slow_request(session):  # the rest of a busy request, between the domain call and its commit
            if not session.in_nested_transaction():
                time.sleep(0.5)

        event.listen(Session, "before_commit", slow_request)
        try:
            response = clerk.post("/admin/intake/", {
                "nik": make_nik("F"), "name": "Sumarni", "sex": "F", "birth_date": "1980-05-17",
                "village_id": village_id, "address": "RT 03 RW 02", "phone": "0813-2555-0177",
                "phone_owner": "own", "unit_id": unit_id, "channel": "walk_in", "urgency": "normal",
                "summary": "KIS tidak aktif saat berobat", "needs": [str(service_id)]})
        finally:
            event.remove(Session, "before_commit", slow_request)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        wait_for(lambda: pipeline.fake.accepted_count() == 1, 2, "Twilio to accept the intake notice",
                 pipeline.diagnosis)
        with pipeline.app.app_context():
            resident = db.session.scalar(select(Resident).where(Resident.name == "Sumarni"))
            message = db.session.scalar(select(SmsMessage).where(SmsMessage.resident_id == resident.id))
            assert message.provider_id == pipeline.fake.messages[0].sid
            db.session.remove()
        assert "Sending due task" not in pipeline.log("worker")
