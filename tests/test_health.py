"""/healthz, /readyz and `flask slrt check`: what a load balancer, a monitor and an operator read.

/healthz answers from the process alone (no database, no cookie); /readyz and the command give
one report (slrt.health): 200 only when the database, migrations, broker, every worker, beat,
the outbox and sending are all fine, else 503 naming what is wrong.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, text

from app import create_app
from slrt import clock, ops, outbox
from slrt.extensions import db
from slrt.models import Heartbeat
from slrt.pii import new_key

WORKERS = ("worker1@slrt-a", "worker2@slrt-b")


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def running(db_session, frozen):
    """Two workers and beat that have just beaten."""
    for name in WORKERS:
        ops.beat(name)
    ops.tick()
    db_session.commit()


def _age(db_session, name: str, seconds: float) -> None:
    db_session.get(Heartbeat, name).at = clock.now() - timedelta(seconds=seconds)
    db_session.commit()


def _other_app(**settings):
    return create_app({"SECRET_KEY": "x", "SLRT_PII_KEY": new_key(), "SLRT_PASSWORD_HASH": "plaintext", **settings})


def test_healthz_answers_from_the_process_alone_without_a_cookie(app, client):
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get("/healthz")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert "Set-Cookie" not in response.headers and statements == []


def test_healthz_stays_up_while_the_database_is_down_and_readyz_says_so_in_json():
    down = _other_app(SQLALCHEMY_DATABASE_URI="postgresql://slrt@127.0.0.1:1/slrt")
    client = down.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503 and response.is_json and "Set-Cookie" not in response.headers
    report = response.json
    assert report["status"] == "failing" and report["failing"]["database"].startswith("unreachable")
    assert report["failing"]["workers"] == "database unreachable"
    assert report["checks"]["broker"]["ok"] is True


def test_readyz_is_200_when_every_part_is_fine(client, running):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert "Set-Cookie" not in response.headers
    report = response.json
    assert report["status"] == "ok" and report["failing"] == {}
    checks = report["checks"]
    assert checks["workers"]["workers"] == {name: {"age_seconds": 0, "ok": True} for name in WORKERS}
    assert checks["beat"] == {"ok": True, "last_tick_age_seconds": 0}
    assert checks["migrations"]["current"] == checks["migrations"]["head"]
    assert checks["outbox"] == {"ok": True, "waiting": 0, "oldest_due_age_seconds": None}
    assert checks["sending"] == {"ok": True, "paused": False}
    assert checks["database"]["ok"] and checks["broker"]["ok"]


def test_one_dead_worker_of_two_is_named(client, running, db_session):
    _age(db_session, WORKERS[1], 300)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert list(response.json["failing"]) == ["workers"]
    assert response.json["failing"]["workers"] == f"no heartbeat for more than 120 s from: {WORKERS[1]}"
    assert response.json["checks"]["workers"]["workers"] == {
        WORKERS[0]: {"age_seconds": 0, "ok": True}, WORKERS[1]: {"age_seconds": 300, "ok": False}}


def test_no_worker_and_a_silent_beat_fail(client, running, db_session):
    for name in WORKERS:
        ops.forget(name)  # stopped on purpose, all of them
    _age(db_session, "beat", 200)
    report = client.get("/readyz").json
    assert report["failing"] == {"workers": "no worker has recorded a heartbeat",
                                 "beat": "no tick for more than 120 s"}
    assert report["checks"]["beat"]["last_tick_age_seconds"] == 200


def test_a_due_message_waiting_too_long_and_a_big_backlog_fail_the_outbox(app, client, district, running, db_session,
                                                                          frozen, monkeypatch):
    from fakes.builders import make_case

    make_case(district)  # the resident's ticket SMS waits in the outbox
    db_session.commit()
    assert client.get("/readyz").status_code == 200
    frozen.shift(timedelta(minutes=31))
    for name in (*WORKERS, "beat"):
        ops.beat(name, ops.BEAT if name == "beat" else ops.WORKER)
    db_session.commit()
    report = client.get("/readyz").json
    assert report["failing"] == {"outbox": "a due message has waited more than 30 min"}
    assert report["checks"]["outbox"] == {"ok": False, "waiting": 1, "oldest_due_age_seconds": 31 * 60}

    monkeypatch.setitem(app.config, "SLRT_READY_OUTBOX_MINUTES", 60.0)
    monkeypatch.setitem(app.config, "SLRT_READY_BACKLOG", 0)
    assert client.get("/readyz").json["failing"] == {"outbox": "1 messages waiting, more than 0"}


def test_paused_sending_fails_readiness(client, running, db_session):
    outbox.pause_sending("twilio", "20003", "authenticate")
    db_session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503 and list(response.json["failing"]) == ["sending"]
    assert response.json["checks"]["sending"]["paused"] is True


def test_a_database_behind_the_code_fails_migrations(client, running, db_session):
    db_session.execute(text("UPDATE alembic_version SET version_num = '0015_region_setup'"))
    db_session.commit()
    report = client.get("/readyz").json
    assert report["failing"] == {"migrations": "the database is not at the code's migration head: flask db upgrade"}
    assert report["checks"]["migrations"]["current"] == "0015_region_setup"


def test_an_unreachable_broker_fails(app):
    other = _other_app(SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                       CELERY_BROKER_URL="amqp://guest@127.0.0.1:1//")
    response = other.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"]["broker"].startswith("unreachable")
    with other.app_context():
        db.engine.dispose()


def test_check_prints_the_same_report(app, running):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["slrt", "check", "--ready"])
    assert result.exit_code == 0, result.output
    assert f"  {WORKERS[0]}: alive, last heartbeat 0 s ago" in result.output
    assert "beat      : ok (last tick age seconds 0)" in result.output
    assert "ready     : yes" in result.output


def test_a_worker_gone_for_good_is_forgotten(app, client, running, db_session):
    _age(db_session, WORKERS[1], 300)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["slrt", "forget-worker", "nobody@x"]).exit_code == 1
    result = runner.invoke(args=["slrt", "forget-worker", WORKERS[1]])
    assert result.exit_code == 0 and f"worker {WORKERS[1]} forgotten" in result.output
    response = client.get("/readyz")
    assert response.status_code == 200 and list(response.json["checks"]["workers"]["workers"]) == [WORKERS[0]]
