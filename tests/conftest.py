"""Fixtures: one migrated database per run, a rolled-back transaction per test, a frozen clock.

The suite runs on SQLite by default and on the real PostgreSQL when TEST_DATABASE_URL is
set (``postgresql://postgres@127.0.0.1:5432/test``); the schema comes from the Alembic
migrations, not from ``create_all``, so every run also exercises them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from fakes.pipeline import postgres_database
from slrt.extensions import db
from slrt.pii import new_key

JAKARTA = ZoneInfo("Asia/Jakarta")
#: Tuesday 24 November 2026, 10:00 in Jakarta: a plain working day.
FROZEN_AT = datetime(2026, 11, 24, 10, 0, tzinfo=JAKARTA)


def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


def reset_database(url: str) -> None:
    """Empty the test database: drop PostgreSQL's public schema (tables, types, alembic_version)."""
    if url.startswith("sqlite"):
        return
    from slrt.config import _normalize_db_url

    engine = sa.create_engine(_normalize_db_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url = database_url(tmp_path_factory)
    reset_database(url)
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "CELERY_BROKER_URL": f"sqla+sqlite:///{instance / 'broker.sqlite'}",
            "SECRET_KEY": "test-secret",
            "SLRT_PII_KEY": new_key(),
            "SLRT_SMS_SENDER_NAME": "SLRT Blora",
            "SLRT_SMS_DISPATCH": False,  # the outbox tests turn it on
            # hashing cost is not what these tests are about; production keeps scrypt
            "SLRT_PASSWORD_HASH": "plaintext",
        }
    )
    app.instance_path = str(instance)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def db_session(app):
    """A session inside a transaction that is rolled back after the test, whatever it committed."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        # expire_on_commit off: view tests end the session with each request, and the test
        # still reads the objects it built (values as committed).
        db.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                                 expire_on_commit=False))
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture
def frozen():
    """Freeze time at FROZEN_AT; ``frozen.move_to(...)`` travels."""
    with time_machine.travel(FROZEN_AT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def district(db_session, frozen):
    from fakes.builders import make_district

    made = make_district()
    # Committed (a savepoint release; the test's outer transaction still rolls it all back),
    # so view tests, whose requests end their session, see it too.
    db_session.commit()
    return made


@pytest.fixture
def is_postgres(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


@pytest.fixture
def send(app):
    """Run the send task for one message in this process, through ``gateway`` if given."""
    task = app.extensions["celery"].tasks["slrt.send_sms"]

    def run(message_id, gateway=None):
        saved = app.extensions["slrt_sms"]
        if gateway is not None:  # the primary gateway, as sms.init_gateways registers one
            app.extensions["slrt_sms"] = replace(saved, primary=gateway,
                                                 by_name={**saved.by_name, gateway.name: gateway})
        try:
            task.apply(args=[message_id])
        finally:
            app.extensions["slrt_sms"] = saved

    return run


@pytest.fixture
def empty_database(tmp_path):
    """A brand-new empty database of the kind the suite runs on: a SQLite file, or a PostgreSQL database
    of its own on the TEST_DATABASE_URL server, dropped afterwards."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    with postgres_database(server) as url:
        yield url


@pytest.fixture
def pipeline_database():
    """For fakes.pipeline.Pipeline: None (SQLite in its folder), or a fresh PostgreSQL database of
    its own on the TEST_DATABASE_URL server (the session's app empties that one when it starts)."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield None
        return
    with postgres_database(server) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, one for the test module (skipped where it is not installed)."""
    from tests.live import chromium, need_chromium

    need_chromium()
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def production_venv(tmp_path_factory):
    """requirements.txt alone in a virtualenv, built once for the session's production tests (PostgreSQL only)."""
    from tests.production import build_production_venv, postgres_server

    postgres_server()
    return build_production_venv(tmp_path_factory.mktemp("production"))
