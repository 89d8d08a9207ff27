"""The migrations build exactly the models' schema, on SQLite and PostgreSQL, and go back down."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from slrt.config import _normalize_db_url
from slrt.extensions import db
from slrt.pii import new_key


@pytest.fixture
def empty_database(tmp_path):
    """A brand-new empty database of the kind the suite runs on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    admin = sa.create_engine(_normalize_db_url(url), isolation_level="AUTOCOMMIT")
    name = "slrt_migration_check"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield _normalize_db_url(url).rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def _diff(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
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
