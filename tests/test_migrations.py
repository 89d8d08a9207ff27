"""The migrations build exactly the models' schema, on SQLite and PostgreSQL, and go back down."""

from __future__ import annotations

import os
import sqlite3

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from slrt.extensions import db
from slrt.models.audit import include_object
from slrt.pii import new_key


def _diff(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(context, db.metadata)


def test_upgrade_from_empty_gives_the_models_schema_and_downgrade_undoes_it(empty_database, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "SLRT_PII_KEY": new_key(), "SECRET_KEY": "x",
                      "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'b.sqlite'}"})
    with app.app_context():
        upgrade()
        assert _diff(app) == []
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"case", "referral", "resident", "event", "sms_message", "alembic_version"} <= tables
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _diff(app) == []
        db.engine.dispose()


def test_every_migration_has_a_title_and_a_downgrade():
    folder = os.path.join(os.path.dirname(__file__), "..", "migrations", "versions")
    for name in os.listdir(folder):
        if not name.endswith(".py"):
            continue
        source = open(os.path.join(folder, name), encoding="utf-8").read()
        title = source.split('"""')[1].strip().splitlines()[0]
        assert len(title) > 10, name
        body = source.split("def downgrade():", 1)[1]
        assert "op." in body, f"{name} has an empty downgrade"


def test_every_foreign_key_is_indexed():
    """Tables here hold millions of rows: a join or a cascade on an unindexed key is a full scan."""
    from slrt.models import Base

    missing = []
    for table in Base.metadata.sorted_tables:
        leading = {tuple(c.name for c in index.columns)[:1] for index in table.indexes}
        leading |= {tuple(c.name for c in con.columns)[:1] for con in table.constraints
                    if isinstance(con, sa.PrimaryKeyConstraint | sa.UniqueConstraint)}
        for fk in table.foreign_keys:
            if (fk.parent.name,) not in leading:
                missing.append(f"{table.name}.{fk.parent.name}")
    assert missing == []


def test_0009_keeps_the_meaning_of_existing_rows_down_and_up(empty_database, tmp_path):
    """Rung, verification and reply key survive a downgrade to 0008 and the upgrade back."""
    import time_machine

    from fakes.builders import make_district, make_referral
    from slrt import inbound, referrals, reminders
    from slrt.clock import now
    from slrt.models import Referral, SmsMessage
    from slrt.models.enums import Role, SmsDirection
    from tests.conftest import FROZEN_AT

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "SLRT_PII_KEY": new_key(), "SECRET_KEY": "x",
                      "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'b.sqlite'}", "SLRT_SMS_DISPATCH": False})
    with app.app_context(), time_machine.travel(FROZEN_AT, tick=False) as traveller:
        upgrade()
        district = make_district()
        quiet, head, supervisor, asked, confirmed = (make_referral(district) for _ in range(5))
        reminders._to_head(head, now())
        reminders._to_head(supervisor, now())
        traveller.shift(60)
        reminders._to_supervisor(supervisor, now())
        back_office = district.user(Role.BACK_OFFICE)
        referrals.complete(asked, actor=back_office)
        referrals.complete(confirmed, actor=back_office)
        inbound.receive(phone=confirmed.case.resident.phone, body="1", provider_id="in-1", gateway="android")
        app.config["SLRT_REPLY_CAP_PER_HOUR"] = 0
        inbound.receive(phone=quiet.case.resident.phone, body="CEK", provider_id="in-2", gateway="android")
        db.session.commit()
        ids = [r.id for r in (quiet, head, supervisor, asked, confirmed)]

        def state():
            rows = db.session.execute(sa.select(Referral.escalation_rung, Referral.resident_verification)
                                      .where(Referral.id.in_(ids)).order_by(Referral.id)).all()
            texts = db.session.execute(sa.select(SmsMessage.reply_key, SmsMessage.error_message).where(
                SmsMessage.direction == SmsDirection.INBOUND).order_by(SmsMessage.id)).all()
            return [tuple(r) for r in rows], [tuple(t) for t in texts]

        before = state()
        assert before == ([(0, "not_asked"), (1, "not_asked"), (2, "not_asked"), (0, "asked"),
                           (0, "confirmed")],
                          [("reply_verified", None), ("reply_help_resident", "reply not sent: hourly cap")])
        db.session.remove()

        downgrade(revision="0008_sign_in_hardening")
        with db.engine.connect() as conn:
            old = conn.execute(sa.text("SELECT resident_verification FROM referral ORDER BY id")).scalars().all()
            kept = conn.execute(sa.text("SELECT error_message FROM sms_message WHERE direction = 'inbound' "
                                        "ORDER BY id")).scalars().all()
        assert old == [None, None, None, "asked", "confirmed"]
        assert kept == ["reply_verified", "reply_help_resident (not sent: hourly cap)"]

        upgrade()
        assert state() == before
        db.session.remove()
        db.engine.dispose()


def test_a_failed_sqlite_upgrade_leaves_foreign_keys_on_for_the_next_user(tmp_path):
    """An upgrade that stops (here: a row pointing nowhere) must not hand the pool a connection without foreign keys."""
    path = tmp_path / "orphan.sqlite"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SLRT_PII_KEY": new_key(), "SECRET_KEY": "x",
                      "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
                      "SLRT_SMS_DISPATCH": False})
    with app.app_context():
        upgrade(revision="0008_sign_in_hardening")
        raw = sqlite3.connect(path)
        raw.execute("INSERT INTO event (case_id, kind, action, at) VALUES (999999, 'note', 'x', '2026-01-01')")
        raw.commit()
        raw.close()
        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits
            upgrade()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()
