"""The number a resident's SMS names to call: the setting, else their case unit's phone, else the
secretariat's; with none at all the reply that needs one is withheld and the operator is told."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from fakes.builders import make_case, make_referral
from slrt import outbox
from slrt.codes import format_code
from slrt.models import SmsMessage, Unit
from slrt.models.enums import SmsDirection
from tests.test_delivery import signed  # noqa: F401  (the signed-webhook fixture)
from tests.test_inbound import last_reply, replies, text  # noqa: F401  (text: the inbound-SMS fixture)

SECRETARIAT_PHONE = "(0296) 531234"  # fakes.builders.make_district
STRANGER = "+6281299990000"


@pytest.fixture
def runner(app, db_session):
    return app.test_cli_runner()


def _inbound(db_session, phone: str) -> SmsMessage:
    return db_session.scalars(select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND,
                                                       SmsMessage.phone == phone).order_by(SmsMessage.id)).all()[-1]


def test_help_to_a_stranger_names_the_secretariats_phone(district, db_session, text):  # noqa: F811
    text(STRANGER, "halo")
    help_sms = last_reply(db_session, STRANGER)
    assert help_sms.template_key == "reply_help_resident"
    assert help_sms.body.endswith(f"Info: {SECRETARIAT_PHONE}")


def test_help_to_a_resident_names_their_case_units_phone(district, db_session, text):  # noqa: F811
    village_post = district.puskesos[0]
    case = make_case(district, unit=village_post)
    db_session.commit()
    phone = case.resident.phone
    text(phone, "halo")
    assert last_reply(db_session, phone).body.endswith(f"Info: {SECRETARIAT_PHONE}")  # the post has no phone
    db_session.execute(update(Unit).where(Unit.id == village_post.id).values(phone="(0296) 520001"))
    db_session.commit()
    text(phone, "apa kabar")
    assert last_reply(db_session, phone).body.endswith("Info: (0296) 520001")


def test_the_configured_number_comes_first(app, district, db_session, text, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "SLRT_REPLY_NUMBER", "0812-2000-3000")
    text(STRANGER, "halo")
    assert last_reply(db_session, STRANGER).body.endswith("Info: 0812-2000-3000")


def test_with_no_number_anywhere_the_help_is_withheld_and_the_operator_told(district, db_session, text,  # noqa: F811
                                                                            runner):
    referral = make_referral(district)
    db_session.execute(update(Unit).values(phone=None))
    db_session.commit()
    text(STRANGER, "halo")
    assert replies(db_session, STRANGER) == []  # not "Info: " and nothing
    assert _inbound(db_session, STRANGER).error_message == outbox.NO_HELP_NUMBER
    resident_phone = referral.case.resident.phone
    text(resident_phone, f"CEK {format_code(referral.case.ticket)}")  # a status names no number: it goes
    assert last_reply(db_session, resident_phone).template_key == "reply_status"

    checked = runner.invoke(args=["slrt", "check"])
    assert checked.exit_code == 1 and "SLRT_REPLY_NUMBER is not set" in checked.output
    handed = runner.invoke(args=["slrt", "sms-in", "--from", "081299990000", "halo"])
    assert handed.exit_code == 1 and "no reply sent" in handed.output and "SLRT_REPLY_NUMBER" in handed.output

    db_session.execute(update(Unit).where(Unit.id == district.secretariat.id).values(phone=SECRETARIAT_PHONE))
    db_session.commit()
    checked = runner.invoke(args=["slrt", "check"])
    assert checked.exit_code == 0 and SECRETARIAT_PHONE in checked.output


def test_sms_in_as_printed_names_a_number(runner, district, db_session):
    result = runner.invoke(args=["slrt", "sms-in", "--from", "081299990000", "halo"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(f"Info: {SECRETARIAT_PHONE}")


@pytest.mark.slow
def test_a_worker_says_at_start_that_no_number_can_be_named(tmp_path):
    from fakes.builders import make_district
    from slrt.extensions import db
    from tests.worker import migrate, wait_until, worker_and_beat, worker_app, worker_env

    env = worker_env(tmp_path)
    migrate(env)
    app = worker_app(env)
    with app.app_context():
        make_district()
        db.session.execute(update(Unit).values(phone=None))
        db.session.commit()
        db.engine.dispose()
    with worker_and_beat(tmp_path, env) as procs:
        wait_until(lambda: "SLRT_REPLY_NUMBER" in (tmp_path / "worker.log").read_text(), procs, tmp_path, 60,
                   step=0.5)
        log = (tmp_path / "worker.log").read_text()
    assert "ERROR" in log and "SLRT_REPLY_NUMBER is not set and no secretariat has a phone" in log, log[-2000:]
