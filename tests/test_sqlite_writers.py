"""The embedded default shares one SQLite file between the web app and the worker: a clerk's
request never fails with "database is locked" while the worker writes, and SQL parameters
(names, case summaries) never appear in an error or a log line.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from flask_migrate import upgrade
from psycopg.errors import DeadlockDetected, SerializationFailure
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app import create_app
from fakes.builders import make_district, make_nik
from slrt.extensions import db
from slrt.models import Case, Resident
from slrt.models.enums import Role
from slrt.pii import new_key
from tests.web import Browser


@pytest.fixture
def shared_file(tmp_path):
    """An app on a SQLite file of its own, migrated, with a district; the file's path."""
    path = tmp_path / "shared.sqlite"
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        "SECRET_KEY": "test-secret", "SLRT_PII_KEY": new_key(), "SLRT_PASSWORD_HASH": "plaintext",
        "SLRT_SMS_DISPATCH": False,
    })
    app.instance_path = str(tmp_path)
    with app.app_context():
        upgrade()
        district = make_district()
        db.session.commit()
        users = {role: district.user(role, district.puskesos[0]).username for role in Role}
        ids = {"village": district.villages[0].id, "unit": district.puskesos[0].id,
               "service": district.services["bpjs_pbi"].id}
        db.session.remove()
    yield app, path, users, ids
    with app.app_context():
        db.engine.dispose()


class BusyWorker(threading.Thread):
    """Another process's writer: short write transactions on the same file, busy 40 % of the time."""

    def __init__(self, path, hold: float = 0.02, pause: float = 0.03) -> None:
        super().__init__(daemon=True)
        self.path, self.hold, self.pause, self.stop, self.writes = path, hold, pause, threading.Event(), 0

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA busy_timeout=30000")
        while not self.stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE unit SET phone = phone")
            time.sleep(self.hold)
            conn.execute("COMMIT")
            self.writes += 1
            time.sleep(self.pause)
        conn.close()


def test_intake_never_fails_while_the_worker_writes(shared_file):
    app, path, users, ids = shared_file
    clerk = Browser(app)
    clerk.login(users[Role.FRONT_OFFICE])
    worker = BusyWorker(path)
    worker.start()
    while worker.writes < 1:  # writing before the first request
        time.sleep(0.01)
    statuses = []
    try:
        for n in range(12):
            nik = make_nik("F")
            clerk.get("/admin/intake/")
            clerk.post("/admin/intake/", {"step": "find", "nik": nik})
            response = clerk.post("/admin/intake/", {
                "nik": nik, "name": f"Warga Uji {'ABCDEFGHIJKL'[n]}", "sex": "F",
                "birth_date": "1980-05-17", "village_id": ids["village"], "address": "RT 01 RW 01",
                "phone": f"0813-2555-{n:04d}", "kk_number": f"331601200510{n + 1:04d}", "phone_owner": "own",
                "unit_id": ids["unit"], "channel": "walk_in",
                "urgency": "normal", "summary": "KIS tidak aktif", "needs": [str(ids["service"])]})
            statuses.append(response.status_code)
    finally:
        worker.stop.set()
        worker.join()
    assert worker.writes > 1, statuses  # the worker kept writing while the clerk worked (fewer on a busy machine)
    assert statuses == [302] * 12
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 12
        assert db.session.scalar(select(func.count()).select_from(Resident)) == 12
        db.session.remove()


def test_sql_parameters_stay_out_of_errors(shared_file, caplog):
    app, _path, _users, _ids = shared_file
    with app.app_context():
        db.session.execute(text("CREATE TABLE probe (name TEXT UNIQUE)"))
        db.session.execute(text("INSERT INTO probe VALUES (:name)"), {"name": "Siti Aminah 3316015708800001"})
        with pytest.raises(IntegrityError) as caught:
            db.session.execute(text("INSERT INTO probe VALUES (:name)"), {"name": "Siti Aminah 3316015708800001"})
        db.session.rollback()
    assert "Siti Aminah" not in str(caught.value) and "3316015708800001" not in str(caught.value)
    assert "Siti Aminah" not in caplog.text


def test_a_lock_held_past_the_busy_timeout_asks_to_send_again_and_saves_nothing(shared_file, monkeypatch):
    """A long import holds the write lock: the clerk sees 503 'send again' in Indonesian, not a crash."""
    from slrt import extensions

    app, path, users, ids = shared_file
    clerk = Browser(app)
    clerk.login(users[Role.FRONT_OFFICE])
    clerk.get("/admin/intake/")
    connect = extensions._sqlite_connect

    def impatient(dbapi_connection, record):  # a busy timeout of 0.2 s instead of 15 s
        connect(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    with app.app_context():
        db.engine.dispose()
        monkeypatch.setattr(extensions, "_sqlite_connect", impatient)
        from sqlalchemy import event

        event.remove(db.engine, "connect", connect)
        event.listen(db.engine, "connect", impatient)
    importer = sqlite3.connect(path, isolation_level=None)
    importer.execute("BEGIN IMMEDIATE")
    try:
        response = clerk.post("/admin/intake/", {
            "nik": make_nik("F"), "name": "Warga Sibuk", "sex": "F", "birth_date": "1980-05-17",
            "village_id": ids["village"], "address": "RT 01 RW 01", "phone": "0813-2555-0999",
            "phone_owner": "own", "unit_id": ids["unit"], "channel": "walk_in", "urgency": "normal",
            "summary": "KIS tidak aktif", "needs": [str(ids["service"])]})
    finally:
        importer.execute("ROLLBACK")
        importer.close()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Sistem sedang sibuk" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resident)) == 0
        db.session.remove()


@pytest.mark.parametrize("cause", [DeadlockDetected, SerializationFailure])
def test_a_transaction_postgresql_ends_to_break_a_deadlock_asks_to_send_again(tmp_path, cause):
    """Two changes in one unit's dashboard tallies can deadlock on PostgreSQL: the loser is asked to send again."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.sqlite'}", "SECRET_KEY": "x",
                      "SLRT_PII_KEY": new_key(), "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'b.sqlite'}"})

    def ended_by_the_database():
        raise OperationalError("UPDATE case_tally ...", {}, cause("deadlock detected"))

    app.add_url_rule("/probe", "probe", ended_by_the_database)
    response = app.test_client().get("/probe")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "send the form again" in response.get_data(as_text=True) or "kirim" in response.get_data(as_text=True)


def test_an_import_run_starts_while_pages_commit_their_audit_entries(shared_file, tmp_path):
    """The worker reads the queued import, then marks it running; a page viewed in between commits its
    audit entry. SQLite fails a reader turned writer at once ("database is locked") unless it took the
    write lock first: the import must run, not stay queued (seen in CI, where the progress page polls)."""
    from datetime import date

    from sqlalchemy import event

    from fakes.dtsen import Village, people, write_csv
    from slrt import dtsen_import
    from slrt.access import SYSTEM_ACTOR
    from slrt.models import ResidentImport
    from slrt.models.enums import ImportState

    app, path, _users, _ids = shared_file
    with app.app_context():
        from slrt.models import Region
        from slrt.models.enums import RegionLevel

        villages = [Village(code=v.code, name=v.name, district="Jepon")
                    for v in db.session.scalars(select(Region).where(Region.level == RegionLevel.VILLAGE))]
        file = tmp_path / "dtsen.csv"
        write_csv(file, people(villages, 30, households=10))
        record = dtsen_import.start(file, filename="dtsen.csv", actor=SYSTEM_ACTOR, as_of=date(2026, 9, 30),
                                    dry_run=False)
        db.session.commit()
        import_id = record.id
        db.session.remove()

        page = sqlite3.connect(path, isolation_level=None, timeout=0)
        interleaved: list[str] = []

        def a_page_commits(conn, cursor, statement, *_args):
            if not interleaved and "FROM resident_import" in statement and statement.lstrip().startswith("SELECT"):
                try:  # another process's short write: committed only if the importer holds no write lock
                    page.execute("BEGIN IMMEDIATE")
                    page.execute("UPDATE unit SET name = name || ' '")
                    page.execute("COMMIT")
                    interleaved.append("committed")
                except sqlite3.OperationalError:
                    interleaved.append("waited")  # the importer was the writer already: the page waits its turn

        event.listen(db.engine, "after_cursor_execute", a_page_commits)
        try:
            done = dtsen_import.run(import_id, file)
        finally:
            event.remove(db.engine, "after_cursor_execute", a_page_commits)
            page.close()
        assert done.state == ImportState.DONE and done.rows_done == 30, done.failure
        assert interleaved == ["waited"]
        assert db.session.get(ResidentImport, import_id).residents_created > 0
        db.session.remove()
