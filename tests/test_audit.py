"""The audit log: one entry per audited read or change, with who, what, whose data and from where;
an unbroken hash chain that audit-verify checks; nothing personal in it."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from fakes.builders import make_case, make_nik, make_referral, make_resident
from slrt import audit, audit_search, clock, inbound, referrals, residents
from slrt.access import SYSTEM_ACTOR
from slrt.extensions import db
from slrt.identity import mask_phone
from slrt.models import AuditEntry, AuditHead, Case, Document, Referral, Resident
from slrt.models.enums import AuditAction, AuditActor, Role
from slrt.pii import new_key
from tests.web import Browser

BROWSER_ADDRESS = "10.20.30.40"


def _mark(db_session) -> int:
    return db_session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))


def _since(db_session, mark: int, **where) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.id > mark).order_by(AuditEntry.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return list(db_session.scalars(query))


def _everything(db_session) -> str:
    """Every entry's fields as text (what a search of the table for a personal value would see)."""
    rows = db_session.execute(select(AuditEntry.__table__)).mappings()
    return json.dumps([dict(row) for row in rows], default=str)


@pytest.fixture
def browser(app):
    return Browser(app)


def _get(browser: Browser, url: str, **kwargs):
    return browser.get(url, environ_base={"REMOTE_ADDR": BROWSER_ADDRESS}, **kwargs)


def _post(browser: Browser, url: str, data: dict | None = None, **kwargs):
    return browser.post(url, data, environ_base={"REMOTE_ADDR": BROWSER_ADDRESS}, **kwargs)


def _login(browser: Browser, username: str):
    _get(browser, "/login")
    _post(browser, "/login", {"username": username, "password": "rahasia-demo-1"})
    return _get(browser, "/admin/")


# --- Changes ------------------------------------------------------------------------------------------------


def test_registering_a_resident_logs_the_creations_with_personal_values_masked(district, db_session):
    mark = _mark(db_session)
    nik, phone = make_nik(), "081225559876"
    resident = residents.register_resident(
        nik=nik, name="Sumarni Wulandari", sex="F", birth_date=date(1980, 5, 17), village=district.villages[0],
        address="RT 02 RW 01 Dukuh Krajan", actor=district.user(Role.FRONT_OFFICE), phone=phone)
    db_session.commit()
    created = _since(db_session, mark, action=AuditAction.CREATE, record_type="resident")
    assert len(created) == 1
    entry = created[0]
    assert entry.record_id == resident.id and entry.resident_ids == [resident.id]
    # Domain code outside a request: the system, unless a command or task says who.
    assert entry.actor_kind == AuditActor.SYSTEM and entry.actor_label == "sistem"
    fields = entry.detail["fields"]
    # Not even masked: a masked NIK keeps its region and sequence, and the log outlives an erasure.
    assert fields["nik_masked"] == [None, "(diubah)"] and resident.nik_masked not in json.dumps(entry.detail)
    assert fields["phone"] == [None, "(diubah)"]
    assert fields["name"] == [None, "(diubah)"] and fields["address"] == [None, "(diubah)"]
    logged = _everything(db_session)
    for personal in (nik, resident.phone, "081225559876", "Sumarni", "Krajan", "1980-05-17"):
        assert personal not in logged


def test_an_update_logs_the_changed_fields_before_and_after(district, db_session):
    resident = make_resident(district, phone="081225550001")
    db_session.commit()
    mark = _mark(db_session)
    resident.phone = "+6281225550002"
    resident.language = "en"
    db_session.commit()
    [entry] = _since(db_session, mark)
    assert entry.action == AuditAction.UPDATE and entry.record_type == "resident"
    assert entry.detail["fields"] == {"phone": ["(diubah)", "(diubah)"], "language": ["id", "en"]}
    # Nothing changed: nothing logged.
    resident.language = "en"
    db_session.commit()
    assert [e.detail for e in _since(db_session, entry.id)] == []


def test_a_rolled_back_change_leaves_no_entry(district, db_session):
    resident = make_resident(district)
    db_session.commit()
    mark = _mark(db_session)
    resident.address = "Jalan Baru 1"
    db_session.flush()
    assert _since(db_session, mark) == []  # queued: written at commit, as the transaction's last statements
    db_session.rollback()
    db_session.commit()
    assert _since(db_session, mark) == []
    assert audit.verify().ok


def test_a_rolled_back_savepoints_entries_go_and_the_outer_transactions_stay(district, db_session):
    first, second = make_resident(district), make_resident(district)
    db_session.commit()
    mark = _mark(db_session)
    first.language = "en"  # the outer transaction's change
    kept = audit.record(AuditAction.VIEW, record=first, resident_ids=[first.id])
    savepoint = db_session.begin_nested()
    second.language = "en"
    audit.record(AuditAction.VIEW, record=second, resident_ids=[second.id])
    with db_session.begin_nested():  # released inside the rolled-back one: goes with it
        audit.record(AuditAction.REVEAL_NIK, record=second, resident_ids=[second.id])
    db_session.flush()
    savepoint.rollback()
    with db_session.begin_nested():  # released: its entry stands with the outer transaction
        audit.record(AuditAction.REVEAL_NIK, record=first, resident_ids=[first.id])
    assert kept.id is None and _since(db_session, mark) == []  # nothing written before the commit
    db_session.commit()
    logged = _since(db_session, mark)
    # In the order they happened (the change is flushed when the first SAVEPOINT begins).
    assert [(e.action, e.record_id) for e in logged] == [
        (AuditAction.VIEW, first.id), (AuditAction.UPDATE, first.id), (AuditAction.REVEAL_NIK, first.id)]
    assert kept.id == logged[0].id and kept.hash == logged[0].hash  # the returned entry, filled in at commit
    assert audit.verify().ok


def test_an_entry_needed_before_the_commit_is_written_at_once(district, db_session):
    resident = make_resident(district)
    db_session.commit()
    mark = _mark(db_session)
    entry = audit.record(AuditAction.REVEAL_NIK, record=resident, resident_ids=[resident.id])
    assert entry.id is None
    assert audit.write_queued() == [entry]
    [written] = _since(db_session, mark)  # in the transaction, before its commit
    assert (written.id, written.hash) == (entry.id, entry.hash)
    audit.record(AuditAction.VIEW, record=resident, resident_ids=[resident.id])
    db_session.commit()
    assert [e.action for e in _since(db_session, mark)] == [AuditAction.REVEAL_NIK, AuditAction.VIEW]
    assert audit.verify().ok


def test_a_status_change_is_one_transition_entry_not_an_update(district, db_session):
    referral = make_referral(district)
    db_session.commit()
    mark = _mark(db_session)
    contact = district.agencies["bpjs"].contacts[0]
    referrals.accept(referral, actor=contact)
    db_session.commit()
    logged = _since(db_session, mark)
    transitions = [e for e in logged if e.action == AuditAction.TRANSITION]
    assert [(e.record_type, e.record_id, e.detail["from"], e.detail["to"]) for e in transitions] == [
        ("referral", referral.id, "sent", "accepted")]
    assert transitions[0].actor_kind == AuditActor.CONTACT
    assert transitions[0].actor_label == mask_phone(contact.phone)
    assert transitions[0].resident_ids == [referral.case.resident_id]
    assert not [e for e in logged if e.action == AuditAction.UPDATE and e.record_type == "referral"]


def test_a_command_or_task_names_who_acted(district, db_session):
    mark = _mark(db_session)
    with audit.acting_as(audit.Operator("root@server")):
        make_resident(district)
        entry = audit.record(AuditAction.RETENTION, actor=SYSTEM_ACTOR, detail={"cases": 0})
    db_session.commit()
    assert {(e.actor_kind, e.actor_label) for e in _since(db_session, mark)} == {(AuditActor.CLI, "root@server")}
    assert entry.actor_kind == AuditActor.CLI


# --- The chain -------------------------------------------------------------------------------------------------


def test_the_chain_verifies_and_a_tampered_entry_is_named(app, district, db_session):
    make_case(district)
    db_session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["slrt", "audit-verify"])
    assert result.exit_code == 0, result.output
    assert "Rantai audit utuh" in result.output
    victim = _since(db_session, 0)[-2]
    db_session.execute(text("UPDATE audit_entry SET detail = :d WHERE id = :id"),
                       {"d": json.dumps({"fields": {}}), "id": victim.id})
    db_session.commit()
    verdict = audit.verify()
    assert not verdict.ok and verdict.broken_id == victim.id and verdict.reason == "hash"
    result = runner.invoke(args=["slrt", "audit-verify"])
    assert result.exit_code == 1 and f"entri {victim.id} " in result.output


def test_removing_the_newest_entries_is_found_by_the_chains_head(app, district, db_session):
    make_case(district)
    db_session.commit()
    newest = _since(db_session, 0)[-1]
    db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": newest.id})
    db_session.commit()
    verdict = audit.verify()
    assert (verdict.ok, verdict.reason, verdict.broken_id) == (False, "head", newest.id)
    result = app.test_cli_runner().invoke(args=["slrt", "audit-verify"])
    assert result.exit_code == 1 and f"entri {newest.id}" in result.output


def _rewrite_chain(db_session, change: dict, entry_id: int) -> None:
    """What someone with write access to the database can do: change an entry and recompute every hash
    after it, and the head, so that the chain verifies again."""
    db_session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(**change))
    prev = audit.GENESIS
    for entry in db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        entry.prev_hash = prev
        entry.hash = prev = audit.entry_hash(prev, {name: getattr(entry, name) for name in audit.HASHED})
    db_session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev))
    db_session.commit()


def test_an_anchor_kept_outside_finds_a_rewritten_chain(app, district, db_session, caplog):
    make_case(district)
    db_session.commit()
    runner = app.test_cli_runner()
    printed = runner.invoke(args=["slrt", "audit-anchor"])
    assert printed.exit_code == 0, printed.output
    kept = audit.Anchor.parse(printed.output)
    assert kept == audit.Anchor(_since(db_session, 0)[-1].id, _since(db_session, 0)[-1].hash)
    result = runner.invoke(args=["slrt", "audit-verify", "--anchor", str(kept)])
    assert result.exit_code == 0 and "1 jangkar diperiksa" in result.output, result.output

    # the daily task logs the head: the anchor that reaches the shipped log
    with caplog.at_level("INFO", logger="slrt.audit"):
        app.extensions["celery"].tasks["slrt.audit_retention"].apply().get()
    [line] = [r for r in caplog.records if getattr(r, "audit_anchor", None)]
    assert line.audit_anchor == str(kept)

    victim = _since(db_session, 0)[0]
    _rewrite_chain(db_session, {"actor_label": "orang-lain"}, victim.id)
    assert audit.verify().ok  # the rewrite is a valid chain ...
    verdict = audit.verify(anchors=[kept])  # ... that no longer holds what was kept outside
    assert (verdict.ok, verdict.reason, verdict.broken_id) == (False, "anchor", kept.id)
    result = runner.invoke(args=["slrt", "audit-verify", "--anchor", str(kept)])
    assert result.exit_code == 1 and f"entri {kept.id}" in result.output


def test_an_anchored_entry_removed_with_the_head_rewritten_is_found(app, district, db_session):
    make_case(district)
    db_session.commit()
    kept = audit.anchor()
    newest = _since(db_session, 0)[-1]
    db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": newest.id})
    before = _since(db_session, 0)[-1]
    db_session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=before.id, last_hash=before.hash))
    db_session.commit()
    assert audit.verify().ok
    verdict = audit.verify(anchors=[kept])
    assert (verdict.ok, verdict.reason, verdict.broken_id) == (False, "anchor", newest.id)


@pytest.mark.parametrize("given", ["12", "x:" + "a" * 64, "5:" + "g" * 64, "5:abc", "9" * 30 + ":" + "a" * 64])
def test_an_anchor_that_is_not_one_is_refused_clearly(app, district, given):
    result = app.test_cli_runner().invoke(args=["slrt", "audit-verify", "--anchor", given])
    assert result.exit_code == 2 and "ID:HASH" in result.output and "Traceback" not in result.output


def test_a_removed_entry_breaks_the_chain_at_the_next(district, db_session):
    make_case(district)
    db_session.commit()
    logged = _since(db_session, 0)
    db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": logged[-2].id})
    db_session.commit()
    verdict = audit.verify()
    assert verdict.broken_id == logged[-1].id and verdict.reason == "prev_hash"


def test_dropping_old_months_keeps_the_chain_verifiable(district, db_session, frozen):
    old = make_resident(district)  # with the district's entries, in November 2026
    db_session.commit()
    frozen.move_to(clock.now() + timedelta(days=120))  # March 2027
    kept = make_resident(district)
    db_session.commit()
    before_february = db_session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.at < datetime(2027, 2, 1, tzinfo=UTC)))
    assert before_february > 0
    dropped = audit.drop_months_before(date(2027, 2, 14))  # whole months: before 1 February
    db_session.commit()
    assert dropped == before_february
    purge = _since(db_session, 0, action=AuditAction.AUDIT_PURGE)[-1]
    assert purge.detail["entries"] == dropped and purge.detail["before"] == "2027-02-01"
    assert db_session.scalar(select(func.count()).select_from(AuditEntry).where(audit.concerns(old.id))) == 0
    assert db_session.scalar(select(func.count()).select_from(AuditEntry).where(audit.concerns(kept.id))) == 1
    assert audit.verify().ok
    assert audit.drop_months_before(date(2027, 2, 14)) == 0  # nothing left to drop


def test_partitions_are_made_ahead_on_postgresql(app, db_session, is_postgres):
    created = audit.ensure_partitions(months_ahead=4)
    names = {row[0] for row in db_session.execute(text(
        "SELECT tablename FROM pg_tables WHERE tablename LIKE 'audit_entry_%'"))} if is_postgres else set()
    if not is_postgres:
        assert created == []
        return
    start = clock.now()
    expected = set()
    for _ in range(5):
        expected.add(f"audit_entry_{start.year:04d}_{start.month:02d}")
        start = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    assert expected <= names
    assert audit.ensure_partitions(months_ahead=4) == []


# --- Concurrent writers (real connections, committed data) ---------------------------------------------------


@pytest.fixture
def committed_documents(app, is_postgres):
    """Four documents committed for real (threads need them), deleted afterwards with the log's entries
    written meanwhile (the end of the chain: what is left still verifies) (PostgreSQL only)."""
    if not is_postgres:
        pytest.skip("real concurrent writers: PostgreSQL (TEST_DATABASE_URL)")
    with app.app_context():
        mark = _mark(db.session)
        documents = [Document(code=f"audit-race-{n}", name=f"Dokumen {n}", sms_name=f"dok {n}") for n in range(4)]
        db.session.add_all(documents)
        db.session.commit()
        ids = [document.id for document in documents]
        db.session.remove()
    yield ids
    with app.app_context():
        db.session.execute(delete(Document).where(Document.id.in_(ids)))
        db.session.commit()
        db.session.execute(delete(AuditEntry).where(AuditEntry.id > mark))
        # The chain's head back on the newest entry left, as if the removed ones had never been.
        newest = db.session.execute(select(AuditEntry.id, AuditEntry.at, AuditEntry.hash)
                                    .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(1)).first()
        db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(
            last_id=newest.id if newest else None, last_at=newest.at if newest else None,
            last_hash=newest.hash if newest else audit.GENESIS))
        db.session.commit()
        assert audit.verify().ok
        db.session.remove()


def _waits_on_a_lock(app, pid: int, seconds: float = 10) -> bool:
    """Whether the backend ``pid`` comes to wait on a lock within ``seconds``."""
    with app.app_context(), db.engine.connect() as connection:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if connection.scalar(text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"), {"pid": pid}):
                return True
            connection.rollback()
            time.sleep(0.02)
    return False


@pytest.mark.postgres
def test_writers_crossing_row_locks_do_not_deadlock_on_the_chain(app, committed_documents):
    # One changes document A then B; two changes B while one holds A, and commits while one waits for B.
    # Had the chain's lock been taken at one's first audited flush and held to its commit, two would
    # wait for it holding B, and one for B holding it: a deadlock PostgreSQL breaks by failing one.
    first_id, second_id = committed_documents[:2]
    a_changed, b_changed = threading.Event(), threading.Event()
    pids: dict[str, int] = {}
    failures: list[BaseException] = []

    def one() -> None:
        with app.app_context():
            try:
                pids["one"] = db.session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                db.session.get(Document, first_id).name = "Dokumen A oleh satu"
                db.session.flush()
                a_changed.set()
                b_changed.wait(timeout=5)
                db.session.get(Document, second_id).name = "Dokumen B oleh satu"
                db.session.flush()  # waits for two's lock on B
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                failures.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    def two() -> None:
        with app.app_context():
            try:
                a_changed.wait(timeout=5)
                db.session.get(Document, second_id).name = "Dokumen B oleh dua"
                db.session.flush()
                b_changed.set()
                _waits_on_a_lock(app, pids["one"])
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                failures.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    with app.app_context():
        mark = _mark(db.session)
        db.session.remove()
    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    with app.app_context():
        assert db.session.get(Document, second_id).name == "Dokumen B oleh satu"  # one committed last
        logged = _since(db.session, mark, record_type="document")
        assert sorted((e.record_id, e.detail["fields"]["name"][1]) for e in logged) == sorted([
            (first_id, "Dokumen A oleh satu"), (second_id, "Dokumen B oleh dua"), (second_id, "Dokumen B oleh satu")])
        assert audit.verify().ok
        db.session.remove()


def _at_once(app, document_ids: list[int], work) -> list[AuditEntry]:
    """Run ``work(document_id)`` in a thread per document, each in its own app context (its own connection),
    all started together; return the entries about documents they logged, oldest first."""
    start = threading.Barrier(len(document_ids))
    failures: list[BaseException] = []

    def run(document_id: int) -> None:
        with app.app_context():
            try:
                start.wait(timeout=10)
                work(document_id)
            except Exception as exc:  # noqa: BLE001 - the test reports it
                failures.append(exc)
            finally:
                db.session.remove()

    with app.app_context():
        mark = _mark(db.session)
        db.session.remove()
    threads = [threading.Thread(target=run, args=(document_id,)) for document_id in document_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    with app.app_context():
        logged = _since(db.session, mark, record_type="document")
        db.session.expunge_all()
        db.session.remove()
    return logged


def _chain_verifies(app, logged: list[AuditEntry]) -> None:
    assert all(entry.prev_hash == before.hash for before, entry in zip(logged, logged[1:], strict=False))
    assert [e.at for e in logged] == sorted(e.at for e in logged)  # id order is time order
    with app.app_context():
        verdict = audit.verify()
        assert verdict.ok, verdict
        db.session.remove()


@pytest.mark.postgres
def test_the_chain_verifies_after_concurrent_writers(app, committed_documents):
    rounds = 8

    def writer(document_id: int) -> None:
        for round_ in range(rounds):
            document = db.session.get(Document, document_id)
            document.name = f"Dokumen {document_id} putaran {round_}"
            audit.record(AuditAction.VIEW, record=("document", document_id))
            if round_ % 2:
                with db.session.begin_nested():  # released: its entry is written at the commit
                    audit.record(AuditAction.EXPORT, record=("document", document_id), rows=1)
            db.session.commit()

    logged = _at_once(app, committed_documents, writer)
    per_writer = rounds * 2 + rounds // 2  # an update and a view each round, an export every other
    assert len(logged) == len(committed_documents) * per_writer
    _chain_verifies(app, logged)


@pytest.mark.postgres
def test_the_chain_verifies_after_concurrent_one_entry_appends(app, committed_documents):
    """Pages' reads, one entry a transaction, from many connections at once: each waits on the head's
    lock, chains to the entry committed meanwhile and moves the head in its insert."""
    rounds = 25

    def reader(document_id: int) -> None:
        for _ in range(rounds):
            audit.record(AuditAction.VIEW, record=("document", document_id))
            db.session.commit()

    logged = _at_once(app, committed_documents, reader)
    assert len(logged) == len(committed_documents) * rounds
    _chain_verifies(app, logged)


def _read_in_a_request(app, document_id: int, agent: str = "Peramban/1.0") -> None:
    """A page's reads as a real request ends them: a view and a list logged, then write_reads, with
    the application's own session (a transaction of its own, not a test's SAVEPOINT)."""
    with app.test_request_context("/admin/document/", environ_base={"REMOTE_ADDR": BROWSER_ADDRESS},
                                  headers={"User-Agent": agent}):
        audit.record_view(db.session.get(Document, document_id))
        audit.record_list(AuditAction.LIST, record_type="document", resident_ids=[document_id, 7], rows=2)
        audit.write_reads()
        db.session.remove()


def _logged_reads(app, mark: int) -> list[AuditEntry]:
    with app.app_context():
        logged = _since(db.session, mark)
        db.session.expunge_all()
        db.session.remove()
    return logged


@pytest.mark.postgres
@pytest.mark.parametrize("agent", ["Peramban Désa/1.0 \u2028 ☕", 'x "at":"@@at@@"'])
def test_a_requests_reads_are_committed_with_the_chain_whole(app, committed_documents, agent, monkeypatch):
    """PostgreSQL: a read-only request's entries and its commit go in one round trip; each is the one
    audit-verify computes, follows the one before and moves the head."""
    with app.app_context():
        mark = _mark(db.session)
        db.session.remove()
    pipelined = []
    commit_reads = audit._commit_reads

    def spy(connection, reads):
        missed = commit_reads(connection, reads)
        # Sent with the COMMIT: the connection is idle once the calls are answered.
        pipelined.append((len(reads), connection.connection.driver_connection.info.transaction_status.name))
        return missed

    monkeypatch.setattr(audit, "_commit_reads", spy)
    _read_in_a_request(app, committed_documents[0], agent)
    assert pipelined == [(2, "IDLE")]
    viewed, listed = _logged_reads(app, mark)
    document_id = committed_documents[0]
    assert (viewed.action, viewed.record_type, viewed.record_id) == (AuditAction.VIEW, "document", document_id)
    assert (listed.action, listed.rows, listed.resident_ids) == (AuditAction.LIST, 2, sorted([7, document_id]))
    assert {(e.ip, e.user_agent) for e in (viewed, listed)} == {(BROWSER_ADDRESS, agent)}
    assert listed.prev_hash == viewed.hash
    with app.app_context():
        head = db.session.get(AuditHead, 1)
        assert (head.last_id, head.last_hash) == (listed.id, listed.hash)
        db.session.remove()
    _chain_verifies(app, [viewed, listed])


@pytest.mark.postgres
def test_requests_reading_at_once_keep_the_chain_whole(app, committed_documents):
    rounds = 20
    with app.app_context():
        mark = _mark(db.session)
        db.session.remove()
    _at_once(app, committed_documents, lambda document_id: [_read_in_a_request(app, document_id)
                                                            for _ in range(rounds)])
    logged = _logged_reads(app, mark)
    assert len(logged) == len(committed_documents) * rounds * 2
    _chain_verifies(app, logged)


@pytest.mark.postgres
def test_a_requests_reads_without_the_head_row_are_written_the_long_way(app, committed_documents, caplog):
    with app.app_context():
        mark = _mark(db.session)
        db.session.execute(delete(AuditHead))
        db.session.commit()
        db.session.remove()
    _read_in_a_request(app, committed_documents[1])
    logged = _logged_reads(app, mark)
    assert [e.action for e in logged] == [AuditAction.VIEW, AuditAction.LIST]
    assert "audit chain head missing" in caplog.text
    _chain_verifies(app, logged)


@pytest.mark.postgres
def test_a_hash_the_database_made_otherwise_is_said_at_once(app, committed_documents, caplog, monkeypatch):
    """Never seen: were the database to hash an entry otherwise than audit-verify (here Python's recipe
    is made to differ), the request fails and the log names the entry, committed by then."""
    with app.app_context():
        mark = _mark(db.session)
        db.session.remove()
    monkeypatch.setattr(audit, "entry_hash", lambda prev_hash, fields: "0" * 64)
    with pytest.raises(RuntimeError, match="the database's hash is not the chain's"):
        _read_in_a_request(app, committed_documents[2])
    monkeypatch.undo()
    [viewed, _listed] = _logged_reads(app, mark)
    assert f"audit entry {viewed.id}" in caplog.text


@pytest.mark.postgres
def test_reads_of_a_session_in_someone_elses_transaction_are_not_committed_for_it(app, committed_documents):
    """A session bound to a connection whose transaction its caller began: the reads join that
    transaction, which only its caller commits or, here, rolls back (with them and its own change)."""
    document_id = committed_documents[3]
    with app.app_context():
        mark = _mark(db.session)
        db.session.remove()
        connection = db.engine.connect()
        outer = connection.begin()
        connection.execute(update(Document).where(Document.id == document_id).values(name="Perubahan luar"))
        original = db.session
        db.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="conditional_savepoint"))
        try:
            with app.test_request_context("/admin/document/", environ_base={"REMOTE_ADDR": BROWSER_ADDRESS}):
                audit.record_view(db.session.get(Document, document_id))
                audit.write_reads()
                db.session.remove()
        finally:
            db.session = original
        assert outer.is_active
        outer.rollback()
        connection.close()
        assert db.session.scalar(select(Document.name).where(Document.id == document_id)) != "Perubahan luar"
        db.session.remove()
    assert _logged_reads(app, mark) == []


@pytest.mark.postgres
def test_a_connection_lost_as_the_reads_are_written_fails_the_page_cleanly(app, committed_documents):
    """The database's connection is cut as the page's reads go: the error is SQLAlchemy's, the lost
    connection is not handed out again and the request's session ends without another error."""
    with app.app_context():
        mark = _mark(db.session)
        db.session.remove()
    with app.test_request_context("/admin/document/", environ_base={"REMOTE_ADDR": BROWSER_ADDRESS}):
        audit.record_view(db.session.get(Document, committed_documents[0]))
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as raised:
            audit.write_reads()
        assert raised.value.connection_invalidated
        db.session.remove()  # the teardown: no second error
    assert _logged_reads(app, mark) == []
    _read_in_a_request(app, committed_documents[0])  # the next page has a working connection
    assert [e.action for e in _logged_reads(app, mark)] == [AuditAction.VIEW, AuditAction.LIST]


# --- Reads and sign-in, through the screens ----------------------------------------------------------------------


def test_a_days_work_through_the_screens_leaves_every_entry(app, district, db_session, browser):
    clerk = district.user(Role.FRONT_OFFICE, district.puskesos[0])
    # A wrong password: one failed sign-in, against the account, from the browser's address.
    mark = _mark(db_session)
    _get(browser, "/login")
    _post(browser, "/login", {"username": clerk.username, "password": "salah"})
    [failed] = _since(db_session, mark)
    assert (failed.action, failed.staff_id, failed.ip) == (AuditAction.SIGN_IN_FAILED, clerk.id, BROWSER_ADDRESS)

    mark = _mark(db_session)
    _login(browser, clerk.username)
    [signed_in] = _since(db_session, mark, action=AuditAction.SIGN_IN)
    assert signed_in.staff_id == clerk.id and signed_in.ip == BROWSER_ADDRESS and signed_in.request_id

    # Intake: the resident, the household and the case, by the clerk.
    mark = _mark(db_session)
    nik = make_nik()
    _get(browser, "/admin/intake/")
    response = _post(browser, "/admin/intake/", {
        "nik": nik, "name": "Sumarni", "sex": "F", "birth_date": "1980-05-17",
        "village_id": district.villages[0].id, "address": "RT 03 RW 02", "phone": "0813-2555-0177",
        "kk_number": "3316 0120 0510 0007", "phone_owner": "own", "unit_id": district.puskesos[0].id,
        "channel": "walk_in", "urgency": "normal", "summary": "KIS tidak aktif",
        "needs": [str(district.services["bpjs_pbi"].id)]})
    assert response.status_code == 302
    case = db_session.scalar(select(Case).join(Case.resident).where(Resident.name == "Sumarni"))
    made = {(e.action, e.record_type) for e in _since(db_session, mark)}
    assert {(AuditAction.CREATE, "resident"), (AuditAction.CREATE, "household"),
            (AuditAction.CREATE, "case")} <= made
    assert {(e.staff_id, e.ip) for e in _since(db_session, mark)} == {(clerk.id, BROWSER_ADDRESS)}

    # The case page: one view, of the case, touching its resident.
    mark = _mark(db_session)
    assert _get(browser, f"/admin/case/details/?id={case.id}").status_code == 200
    [viewed] = _since(db_session, mark)
    assert (viewed.action, viewed.record_type, viewed.record_id) == (AuditAction.VIEW, "case", case.id)
    assert viewed.resident_ids == [case.resident_id] and viewed.staff_id == clerk.id

    # The residents' list: one entry with its rows and residents.
    mark = _mark(db_session)
    assert _get(browser, "/admin/resident/").status_code == 200
    [listed] = _since(db_session, mark)
    assert listed.action == AuditAction.LIST and listed.rows == len(listed.resident_ids) >= 1
    assert case.resident_id in listed.resident_ids

    # A search by NIK: a search entry, and the NIK nowhere in the log.
    mark = _mark(db_session)
    browser.search("/admin/resident/", nik)
    searched = _since(db_session, mark, action=AuditAction.SEARCH)
    assert len(searched) == 1 and searched[0].resident_ids == [case.resident_id] and searched[0].detail["search"]
    assert nik not in _everything(db_session) and "Sumarni" not in _everything(db_session)

    # The intake's lookup of a known NIK shows the resident's name and address: one search entry.
    mark = _mark(db_session)
    assert _post(browser, "/admin/intake/", {"nik": nik, "step": "find"}).status_code == 200
    [looked_up] = _since(db_session, mark)
    assert (looked_up.action, looked_up.resident_ids, looked_up.rows) == (AuditAction.SEARCH, [case.resident_id], 1)

    # Sign-out.
    mark = _mark(db_session)
    _post(browser, "/logout")
    assert [e.action for e in _since(db_session, mark)] == [AuditAction.SIGN_OUT]

    # A supervisor's export: the rows and every resident in it.
    supervisor = Browser(app)
    _login(supervisor, district.user(Role.SUPERVISOR).username)
    mark = _mark(db_session)
    response = _get(supervisor, "/admin/case/export/csv/")
    assert response.status_code == 200
    response.get_data()
    [exported] = _since(db_session, mark)
    in_scope = db_session.scalar(select(func.count()).select_from(Case))
    assert exported.action == AuditAction.EXPORT and exported.rows == in_scope
    assert case.resident_id in exported.resident_ids and exported.detail["format"] == "csv"

    # Refer, on the case page, by a back-office clerk: the referral created, the case's transition.
    back_office = Browser(app)
    _login(back_office, district.user(Role.BACK_OFFICE).username)
    _get(back_office, f"/admin/case/details/?id={case.id}")
    mark = _mark(db_session)
    response = _post(back_office, f"/admin/case/{case.id}/refer", {
        "service_id": district.services["bpjs_pbi"].id, "agency_id": district.agencies["bpjs"].id,
        "confirm_missing": "1"})
    assert response.status_code == 302
    logged = _since(db_session, mark)
    assert (AuditAction.CREATE, "referral") in {(e.action, e.record_type) for e in logged}
    assert {(e.action, e.record_type) for e in logged if e.action == AuditAction.TRANSITION} == {
        (AuditAction.TRANSITION, "case")}

    # The agency answers by SMS: one command entry by the contact, and the referral's transition.
    referral = db_session.scalar(select(Referral).where(Referral.case_id == case.id))
    contact = district.agencies["bpjs"].contacts[0]
    mark = _mark(db_session)
    inbound.receive(phone=contact.phone, body=f"TERIMA {referral.code}", provider_id="audit-sms-1", gateway="android")
    db_session.commit()
    logged = _since(db_session, mark)
    [command] = [e for e in logged if e.action == AuditAction.SMS_COMMAND]
    assert command.actor_kind == AuditActor.CONTACT and command.actor_label == mask_phone(contact.phone)
    assert [e.detail["to"] for e in logged if e.action == AuditAction.TRANSITION and e.record_type == "referral"] \
        == ["accepted"]

    assert audit.verify().ok
    assert "+6281325550177" not in _everything(db_session)


def test_reads_are_not_logged_with_audit_off_but_changes_are(app, district, db_session, browser):
    case = make_case(district)
    db_session.commit()
    _login(browser, district.user(Role.FRONT_OFFICE, district.puskesos[0]).username)
    app.config["SLRT_AUDIT"] = False
    try:
        mark = _mark(db_session)
        assert _get(browser, f"/admin/case/details/?id={case.id}").status_code == 200
        assert _get(browser, "/admin/resident/").status_code == 200
        assert _since(db_session, mark) == []
        db_session.get(Resident, case.resident_id).language = "en"
        db_session.commit()
        assert [e.action for e in _since(db_session, mark)] == [AuditAction.UPDATE]
    finally:
        app.config["SLRT_AUDIT"] = True


def test_a_page_read_after_a_later_entry_follows_it_and_the_chain_verifies(app, district, db_session, browser):
    """When the newest entry is later than a page's read (committed meanwhile), the read takes its time
    and follows it; its hash is the one audit-verify computes (a user agent beyond ASCII included)."""
    case = make_case(district)
    db_session.commit()
    _login(browser, district.user(Role.SUPERVISOR).username)
    later = clock.now() + timedelta(minutes=7)
    db_session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_at=later))
    db_session.commit()
    mark = _mark(db_session)
    page = _get(browser, f"/admin/case/details/?id={case.id}", headers={"User-Agent": "Peramban Désa/1.0"})
    assert page.status_code == 200
    [viewed] = _since(db_session, mark)
    assert viewed.action == AuditAction.VIEW and viewed.user_agent == "Peramban Désa/1.0"
    assert clock.as_utc(viewed.at) == later
    fields = {name: getattr(viewed, name) for name in audit.HASHED}
    assert viewed.hash == audit.entry_hash(viewed.prev_hash, fields)
    head = db_session.get(AuditHead, 1)
    db_session.refresh(head)
    assert (head.last_id, head.last_hash) == (viewed.id, viewed.hash)
    assert audit.verify().ok


@pytest.mark.parametrize("agent", ["x @@at@@", 'x "at":"@@at@@"', "@@at@@" * 40])
def test_a_client_chosen_user_agent_cannot_break_an_entry(app, district, db_session, browser, agent):
    """The user agent is the client's: whatever it holds, a failed sign-in is logged and counted, a page's
    read is logged, and the chain verifies (the database hashes an entry around its time's text)."""
    user = district.user(Role.SUPERVISOR)
    case = make_case(district)
    db_session.commit()
    mark = _mark(db_session)
    _get(browser, "/login")
    failed = _post(browser, "/login", {"username": user.username, "password": "salah"}, headers={"User-Agent": agent})
    assert failed.status_code == 200
    [entry] = _since(db_session, mark)
    assert entry.action == AuditAction.SIGN_IN_FAILED and entry.user_agent == agent[:255]
    _login(browser, user.username)
    mark = _mark(db_session)
    assert _get(browser, f"/admin/case/details/?id={case.id}", headers={"User-Agent": agent}).status_code == 200
    [viewed] = _since(db_session, mark)
    assert viewed.action == AuditAction.VIEW and viewed.user_agent == agent[:255]
    assert audit.verify().ok


def test_household_page_touches_every_member(app, district, db_session, browser):
    household = residents.household_for_intake("3316012005100007", address="RT 02 RW 01",
                                               village=district.villages[0], actor=district.user(Role.FRONT_OFFICE))
    first = make_resident(district, household=household)
    second = make_resident(district, household=household, name="Budi Santoso")
    db_session.commit()
    _login(browser, district.user(Role.SUPERVISOR).username)
    mark = _mark(db_session)
    assert _get(browser, f"/admin/household/details/?id={household.id}").status_code == 200
    [viewed] = _since(db_session, mark)
    assert viewed.record_type == "household" and viewed.resident_ids == sorted([first.id, second.id])


def test_no_screen_edits_or_deletes_the_log(app):
    for view in app.extensions["admin"][0]._views:
        if getattr(view, "model", None) is AuditEntry:
            assert not (view.can_edit or view.can_delete or view.can_create)
            assert not view.action_form  # no bulk delete either


@pytest.mark.parametrize(("hops", "address"), [(1, "36.71.12.9"), (0, "127.0.0.1")])
def test_the_address_is_the_clients_behind_the_proxy_only_when_the_proxy_is_set(tmp_path, hops, address):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.sqlite'}", "SECRET_KEY": "x",
                      "SLRT_PII_KEY": new_key(), "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'b.sqlite'}",
                      "SLRT_PROXY_HOPS": hops, "SLRT_SMS_DISPATCH": False, "SLRT_PASSWORD_HASH": "plaintext"})
    with app.app_context():
        upgrade()
    browser = Browser(app)
    browser.get("/login")
    browser.post("/login", {"username": "nobody-here", "password": "rahasia"},
                 headers={"X-Forwarded-For": "36.71.12.9"})
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry)).all()
        assert (entry.action, entry.actor_kind, entry.staff_id) == (AuditAction.SIGN_IN_FAILED, AuditActor.STAFF, None)
        assert entry.ip == address and entry.actor_label == "(akun tidak dikenal)"
        assert "nobody-here" not in _everything(db.session)
        db.engine.dispose()


def test_entries_come_in_keyset_pages_by_filter(district, db_session, frozen):
    first, second = make_resident(district), make_resident(district)
    db_session.commit()
    for minute in range(5):
        frozen.move_to(clock.now() + timedelta(minutes=1))
        audit.record(AuditAction.VIEW, record=first if minute % 2 else second,
                     resident_ids=[first.id if minute % 2 else second.id], actor=district.user(Role.SUPERVISOR))
    db_session.commit()
    views = audit_search.Filters(action=AuditAction.VIEW)
    first_page = audit_search.page(views, size=3)
    second_page = audit_search.page(views, first_page.next, size=3)
    page_one, page_two = first_page.entries, second_page.entries
    assert [e.id for e in page_one + page_two] == sorted((e.id for e in page_one + page_two), reverse=True)
    assert len(page_one) == 3 and len(page_two) == 2 and second_page.next is None
    about_first = audit_search.page(audit_search.Filters(resident_id=first.id, action=AuditAction.VIEW)).entries
    assert [e.record_id for e in about_first] == [first.id, first.id]
    mine = audit_search.page(audit_search.Filters(staff_id=district.user(Role.SUPERVISOR).id)).entries
    assert len(mine) == 5


def test_a_cli_command_is_the_operators_doing(app, district, db_session):
    user = district.user(Role.BACK_OFFICE)
    mark = _mark(db_session)
    result = app.test_cli_runner().invoke(args=["slrt", "reset-2fa", user.username])
    assert result.exit_code == 0, result.output
    [reset] = _since(db_session, mark, action=AuditAction.AUTHENTICATOR_RESET)
    assert (reset.record_type, reset.record_id, reset.actor_kind) == ("staff", user.id, AuditActor.CLI)
    assert "@" in reset.actor_label
    assert audit._acting.get() is None  # nothing left behind for what runs next in this process
