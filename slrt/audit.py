"""The audit log (UU PDP 27/2022): who read or changed whose personal data, when, from where.

Every entry goes through :func:`record` (or the flush listener), which queues it in the session
(``session.info``) with the transaction it happened in. At the outermost commit, as the last
statements before COMMIT, :func:`_before_commit` flushes, locks and reads the chain's head row
(``audit_head``: the newest entry's id, time and hash; on SQLite the write lock, which the
transaction takes with :func:`begin_write` when it queues its first entry, comes first), inserts the
queued entries chained, ``hash = sha256(prev_hash + canonical JSON of its fields)``, and moves the
head. The lock is held to commit, so id order is chain order and :func:`verify` can walk the chain;
as it is taken last, a transaction never holds it while it waits on a row lock (which could
deadlock with one that holds the row and waits for the chain). Entries are written in the caller's
transaction: a rolled-back change leaves no entry, and a rolled-back SAVEPOINT drops those queued in
it. An entry's ``at`` is when it happened, or the previous entry's if that is later (the log's
order). :func:`write_queued` writes the queued entries at once, for a caller needing an id or hash;
:func:`queued` lists them, for one reading the log that must see its own transaction's entries.

What writes entries:

- changes: a session listener (:func:`_after_flush`) logs the INSERT/UPDATE/DELETE of the
  audited models (:data:`AUDITED`) with their changed fields, personal values masked; status
  columns are the state machine's, logged once as a "transition" by slrt.workflow;
- reads: the screens call :func:`record_view` and :func:`record_list` (off with SLRT_AUDIT=false,
  for the benchmark; changes stay audited); a request that recorded a read commits at its end;
- sign-in, sign-out, failed sign-in, SMS commands, imports: their own modules call :func:`record`.

Who acted: the ``actor`` given, else the one of :func:`acting_as` (a CLI command, a task), else the
request's signed-in account (the resolver the boundary gives :func:`init_app`), else the system.
Where from: the request's address (after ProxyFix), user agent and request id.
"""

from __future__ import annotations

import getpass
import hashlib
import ipaddress
import json
import logging
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import psycopg
from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import (
    BigInteger,
    bindparam,
    event,
    exists,
    func,
    insert,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, attributes

from slrt import clock
from slrt.access import SYSTEM_ACTOR, Actor, ResidentPhone, System
from slrt.extensions import begin_write, db
from slrt.identity import mask_phone
from slrt.models import (
    Agency,
    AgencyContact,
    AuditEntry,
    AuditHead,
    Case,
    Document,
    FollowUp,
    Household,
    Referral,
    Resident,
    Service,
    SmsMessage,
    SmsPause,
    SmsTemplate,
    Staff,
    Unit,
)
from slrt.models.audit import PARTITION_NAME
from slrt.models.enums import AuditAction, AuditActor

#: The previous hash of the first entry.
GENESIS = "0" * 64
#: What a changed personal value (a name, an address, a free-text note) is logged as.
CHANGED = "(diubah)"
#: The system's label.
SYSTEM_LABEL = "sistem"
#: The fields of an entry its hash covers, besides prev_hash (everything but id and hash).
HASHED = ("at", "actor_kind", "staff_id", "actor_label", "action", "record_type", "record_id",
          "resident_ids", "rows", "detail", "ip", "user_agent", "request_id")

log = logging.getLogger(__name__)
_table = AuditEntry.__table__
_head_table = AuditHead.__table__


@dataclass(frozen=True)
class Operator:
    """An operator running a command on the server (``flask slrt ...``): OS user@host."""

    label: str


def operator() -> Operator:
    """The operator of this process: the OS user at this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "cli"
    return Operator(f"{user}@{socket.gethostname()}"[:120])


@dataclass(frozen=True)
class UnknownAccount:
    """Someone signing in with a username no account has (the name typed is not logged: it may be a
    password typed in the wrong box)."""

    label: str = "(akun tidak dikenal)"


AuditActorLike = Actor | Operator | UnknownAccount

_acting: ContextVar[AuditActorLike | None] = ContextVar("slrt_audit_actor", default=None)


@contextmanager
def acting_as(actor: AuditActorLike) -> Iterator[None]:
    """Attribute every entry written in the block (changes included) to ``actor``."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


# --- Who, where ----------------------------------------------------------------------------------------


def _actor() -> AuditActorLike:
    actor = _acting.get()
    if actor is not None:
        return actor
    if has_request_context():
        signed_in = current_app.extensions.get("slrt_audit_signed_in")
        staff = signed_in() if signed_in else None
        if staff is not None:
            return staff
    return SYSTEM_ACTOR


def actor_fields(actor: AuditActorLike) -> dict[str, Any]:
    """actor_kind, staff_id and actor_label of ``actor`` (never a full phone number)."""
    if isinstance(actor, Staff):
        return {"actor_kind": AuditActor.STAFF, "staff_id": actor.id, "actor_label": actor.username[:120]}
    if isinstance(actor, AgencyContact):
        return {"actor_kind": AuditActor.CONTACT, "staff_id": None, "actor_label": mask_phone(actor.phone)}
    if isinstance(actor, ResidentPhone):
        return {"actor_kind": AuditActor.RESIDENT, "staff_id": None, "actor_label": mask_phone(actor.phone)}
    if isinstance(actor, Operator):
        return {"actor_kind": AuditActor.CLI, "staff_id": None, "actor_label": actor.label[:120]}
    if isinstance(actor, System):
        return {"actor_kind": AuditActor.SYSTEM, "staff_id": None, "actor_label": SYSTEM_LABEL}
    if isinstance(actor, UnknownAccount):
        return {"actor_kind": AuditActor.STAFF, "staff_id": None, "actor_label": actor.label}
    raise TypeError(f"not an actor: {actor!r}")


def normal_address(value: str) -> str:
    """An IP address as the log keeps it and is searched by: one spelling per address (an IPv4 address
    mapped into IPv6, as a dual-stack socket gives it, as IPv4; IPv6 compressed, lower case).
    ValueError when ``value`` is not an IP address."""
    address = ipaddress.ip_address(value.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def from_address(address: str):
    """An SQL condition: the entry came from ``address`` (as :func:`normal_address` spells it), in the
    spellings entries written before the log spelled addresses one way may have (IPv4 mapped into IPv6).
    For a query that reads all such entries (the breach report): with two values it is not the
    (ip, at) index's order, which the log screen's pages need (they ask for the one spelling)."""
    spellings = [address]
    if isinstance(ipaddress.ip_address(address), ipaddress.IPv4Address):
        spellings.append(f"::ffff:{address}")
    return _table.c.ip.in_(spellings)


def _address(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normal_address(value)
    except ValueError:  # not an address (a unix socket's peer, say): kept as given
        return value[:45]


def _where() -> dict[str, Any]:
    if not has_request_context():
        return {"ip": None, "user_agent": None, "request_id": None}
    address, agent = request.remote_addr, request.headers.get("User-Agent")
    return {"ip": _address(address), "user_agent": agent[:255] if agent else None,
            "request_id": g.get("slrt_request_id")}


# --- Values --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return clock.as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def _normal_json(value: Any) -> Any:
    """``value`` as it reads back from a JSON column (tuples as lists, enums as values, ...)."""
    return None if value is None else json.loads(json.dumps(value, default=_jsonable))


#: Stands for the time in :func:`canonical_around`'s JSON.
_AT_MARK = "@@at@@"


def canonical(fields: dict[str, Any]) -> str:
    """The canonical JSON of an entry's hashed fields: sorted keys, no spaces, UTC times."""
    data = {}
    for name in HASHED:
        value = fields.get(name)
        if name == "at":
            value = _AT_MARK if value is _AT_MARK else clock.as_utc(value).isoformat(timespec="microseconds")
        elif name == "resident_ids":
            value = sorted(int(i) for i in value or ())
        elif isinstance(value, Enum):
            value = value.value
        data[name] = value
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The hash of an entry with ``fields`` following the entry whose hash is ``prev_hash``."""
    return hashlib.sha256((prev_hash + canonical(fields)).encode()).hexdigest()


def canonical_around(fields: dict[str, Any]) -> tuple[str, str]:
    """The canonical JSON of ``fields`` before and after its time's text, for PostgreSQL to hash an entry
    whose time it settles (:data:`_APPEND_CALL`); the time's text ends in "+00:00", put in ``after``.
    ValueError when the split, with ``fields``' own time put back, is not the canonical JSON.

    The time is found as the whole ``"at":"<mark>"`` member, its first one: a value holding the mark
    (a user agent is the client's to choose) has its quotes escaped inside a string, and the only keys
    before "at" are the action's and the actor's (a detail's own "at" comes after it).
    """
    member = f'"at":"{_AT_MARK}"'
    before, found, after = canonical({**fields, "at": _AT_MARK}).partition(member)
    before, after = before + '"at":"', '+00:00"' + after
    at_text = clock.as_utc(fields["at"]).isoformat(timespec="microseconds").removesuffix("+00:00")
    if not found or before + at_text + after != canonical(fields):
        raise ValueError("an entry's canonical JSON does not split around its time")
    return before, after


def _record_ref(record: Any) -> tuple[str | None, int | None]:
    if record is None:
        return None, None
    if isinstance(record, tuple):
        return record[0], record[1]
    return RECORD_TYPES[type(record)], record.id


# --- Appending ------------------------------------------------------------------------------------------

#: session.info key of the entries the session's transaction queued: (transaction, fields, entry), the
#: transaction being the innermost one (a SAVEPOINT, else the root) when the entry was queued.
_QUEUE = "slrt_audit_queue"


def _become_writer(session: Session) -> None:
    """SQLite: make the transaction the database's one writer, unless it has written already (it holds
    the lock then, and begin_write must not commit its half-done work) or began as one."""
    if session.get_bind().dialect.name == "sqlite" and not session.info.get("slrt_wrote"):
        begin_write()


_HEAD_COLUMNS = (_head_table.c.last_id, _head_table.c.last_at, _head_table.c.last_hash)
_LOCK_HEAD = select(*_HEAD_COLUMNS).where(_head_table.c.id == 1).with_for_update()
#: PostgreSQL, for a transaction that only logged reads: the same, and its commit need not wait for the disk.
_LOCK_HEAD_RELAXED = (select(*_HEAD_COLUMNS, func.set_config("synchronous_commit", "off", True))
                      .where(_head_table.c.id == 1).with_for_update())


def _head(session: Session, *, relaxed: bool = False) -> tuple[Connection, Any]:
    """Lock the chain's head row (held to the end of the transaction: the chain's lock) and read it;
    return the session's connection and the row (last_id, last_at, last_hash). ``relaxed`` (PostgreSQL):
    the transaction's commit will not wait for the disk."""
    _become_writer(session)  # SQLite: writers are serialized by the database's lock
    connection = session.connection()
    relaxed = relaxed and connection.dialect.name == "postgresql"
    head = connection.execute(_LOCK_HEAD_RELAXED if relaxed else _LOCK_HEAD).first()
    if head is None:  # a database made without the migration's row (create_all): start from the newest entry
        last = connection.execute(select(_table.c.id, _table.c.at, _table.c.hash)
                                  .order_by(_table.c.at.desc(), _table.c.id.desc()).limit(1)).first()
        if last is not None:  # the migration made the row: someone removed it (and maybe the newest entries)
            log.error("audit chain head missing: rebuilt from the newest entry %s; run flask slrt audit-verify",
                      last.id)
        values = {"id": 1, "last_id": last.id if last else None, "last_at": last.at if last else None,
                  "last_hash": last.hash if last else GENESIS}
        upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(upsert(_head_table).values(values).on_conflict_do_nothing())
        head = connection.execute(_LOCK_HEAD).first()
    return connection, head


def _queue(session: Session, entries: list[dict[str, Any]], *, as_entries: bool = True) -> list[AuditEntry]:
    """Queue ``entries`` (field dicts) for the session's outermost commit; return them as transient
    :class:`AuditEntry` objects, whose id and hash are filled in when they are written (none made
    when not ``as_entries``: a request's reads, queued as its answer is sent, are nobody's to read)."""
    _become_writer(session)  # SQLite: as the transaction will write at commit (a no-op elsewhere)
    transaction = session.get_nested_transaction() or session.get_transaction() or session.begin()
    queued = session.info.setdefault(_QUEUE, [])
    made = []
    for fields in entries:
        fields.setdefault("at", clock.now())
        entry = AuditEntry(**fields) if as_entries else None
        queued.append((transaction, fields, entry))
        made.append(entry)
    session.info["slrt_wrote"] = True
    return made


#: The statements of an append, built once: values go as parameters, so SQLAlchemy compiles each once
#: (a statement with its values inside costs its cache key's making, per entry).
_APPEND = insert(_table).returning(_table.c.id)
_MOVE_HEAD = update(_head_table).where(_head_table.c.id == 1)
#: session.info key: the transaction logged reads only, its commit need not wait for the disk.
_RELAXED_KEY = "slrt_audit_relaxed"


#: PostgreSQL: an entry inserted and the head moved to it in one statement (a page's read: the head's
#: lock, then this, where there were four statements). It runs under the lock: its snapshot sees the head.
_APPENDED = (insert(_table).values({name: bindparam(f"entry_{name}") for name in (*HASHED, "prev_hash", "hash")})
             .returning(_table.c.id, _table.c.at, _table.c.hash).cte("appended"))
_APPEND_MOVING_HEAD = (update(_head_table).where(_head_table.c.id == 1)
                       .values(last_id=select(_APPENDED.c.id).scalar_subquery(),
                               last_at=select(_APPENDED.c.at).scalar_subquery(),
                               last_hash=select(_APPENDED.c.hash).scalar_subquery())
                       .returning(_head_table.c.last_id))


#: PostgreSQL: one entry appended by one call of the database function ``audit_append`` (migration 0023;
#: a page's read: one round trip, where the head's lock and the insert take two). Its UPDATE of the head
#: row, whose row lock is the chain's lock, moves it to the new entry: the entry's id drawn from the
#: sequence, its time (never before the head's), the hash it follows (kept in ``prev_hash``) and its
#: hash, ``sha256(prev_hash + canonical JSON)`` as :func:`entry_hash` makes it, the JSON's text around
#: the time from Python (:func:`canonical_around`); then the entry's INSERT. An UPDATE that waited for
#: another writer's lock works on the head that writer left (PostgreSQL evaluates it again on the newest
#: row), so the entry follows that writer's, and its id, drawn then, comes after. A row of NULLs when the
#: head row is missing. ``relaxed``: the transaction's commit does not wait for the disk (it logged reads
#: only). A function, not a statement: PL/pgSQL keeps its statements' plans for the connection's life,
#: where the driver's prepared statements are forgotten at every rollback. In the driver's own terms
#: (``exec_driver_sql``, and psycopg's pipeline in :func:`_commit_reads`).
_APPEND_CALL = ("SELECT id, at, prev_hash, hash FROM audit_append(%(at)s, %(before_at)s, %(after_at)s, %(relaxed)s, "
                + ", ".join(f"%({name})s" for name in HASHED if name != "at") + ")")


def _call_params(fields: dict[str, Any], *, relaxed: bool) -> dict[str, Any]:
    """:data:`_APPEND_CALL`'s parameters for the entry of ``fields`` (enums by value, the detail as JSON)."""
    before, after = canonical_around(fields)
    params = {name: fields.get(name) for name in HASHED}
    params.update(before_at=before, after_at=after, relaxed=relaxed,
                  actor_kind=AuditActor(params["actor_kind"]).value, action=AuditAction(params["action"]).value,
                  detail=None if params["detail"] is None else json.dumps(params["detail"], ensure_ascii=False))
    return params


def _settled(fields: dict[str, Any], entry: AuditEntry | None, row) -> bool:
    """Take what :data:`_APPEND_CALL` answered into ``fields`` (and ``entry``): False when no head row was
    there (nothing written). RuntimeError when the database's hash is not what audit-verify computes."""
    entry_id, at, prev_hash, digest = row
    if entry_id is None:
        return False
    fields.update(at=at, prev_hash=prev_hash)
    if entry_hash(prev_hash, fields) != digest:
        raise RuntimeError(f"audit entry {entry_id}: the database's hash is not the chain's")
    fields["hash"] = digest
    if entry is not None:
        entry.id, entry.at, entry.prev_hash, entry.hash = entry_id, at, prev_hash, digest
    return True


def _append_one(connection: Connection, fields: dict[str, Any], entry: AuditEntry | None, *, relaxed: bool) -> bool:
    """Append one entry with :data:`_APPEND_CALL` (PostgreSQL), its hash checked before the transaction
    commits: never a bad link. False when the head row is missing."""
    return _settled(fields, entry, connection.exec_driver_sql(_APPEND_CALL, _call_params(fields, relaxed=relaxed))
                    .one())


def _write(session: Session, queued: list[tuple[Any, dict[str, Any], AuditEntry]], *, relaxed: bool = False) -> None:
    """Insert the ``queued`` entries at the end of the chain, in the session's transaction, under the
    chain's lock (held to commit). ``relaxed``: a transaction that only logged reads, whose commit
    need not wait for the disk (PostgreSQL)."""
    if len(queued) == 1 and session.get_bind().dialect.name == "postgresql":
        _transaction, fields, entry = queued[0]
        if _append_one(session.connection(), fields, entry, relaxed=relaxed):
            return
    connection, head = _head(session, relaxed=relaxed)
    last_id, last_at, prev_hash = head.last_id or 0, head.last_at, head.last_hash
    postgresql = connection.dialect.name == "postgresql"
    for number, (_transaction, fields, entry) in enumerate(queued, 1):
        if last_at and fields["at"] < last_at:
            fields["at"] = last_at  # never before the entry it follows
        fields["prev_hash"] = prev_hash
        fields["hash"] = entry_hash(prev_hash, fields)
        if not postgresql:
            fields["id"] = last_id + 1  # SQLite: the one writer draws it; PostgreSQL: the sequence
        # PostgreSQL: the last entry's insert moves the head too
        last_one = postgresql and number == len(queued)
        if last_one:
            last_id = connection.execute(_APPEND_MOVING_HEAD, {f"entry_{name}": value for name, value in fields.items()
                                                               if name != "id"}).scalar_one()
        else:
            last_id = connection.execute(_APPEND, fields).scalar_one()
        last_at, prev_hash = fields["at"], fields["hash"]
        if entry is not None:
            entry.id, entry.at, entry.prev_hash, entry.hash = last_id, fields["at"], fields["prev_hash"], fields["hash"]
    if not postgresql:
        connection.execute(_MOVE_HEAD, {"last_id": last_id, "last_at": last_at, "last_hash": prev_hash})


def queued(session: Session | None = None) -> list[AuditEntry]:
    """The entries the transaction has queued and not written yet, oldest first (ids and hashes unset):
    for a reader of the log that must see its own transaction's entries without waiting for the commit."""
    session = session or db.session()
    return [entry or AuditEntry(**fields) for _transaction, fields, entry in session.info.get(_QUEUE, ())]


def write_queued(session: Session | None = None) -> list[AuditEntry]:
    """Write the entries the transaction has queued now, not at commit, and return them (ids and hashes set).

    For a caller that needs an entry's id or hash before the commit. It takes the chain's lock, held
    to commit: the transaction then waits for, and holds up, every other writer of the log until it
    ends (the deadlock risk the commit-time writing avoids), so keep what follows short.
    """
    session = session or db.session()
    session.flush()
    queued = session.info.pop(_QUEUE, None)
    if not queued:
        return []
    _write(session, queued)
    return [entry for _transaction, _fields, entry in queued]


def _fields(action: AuditAction, *, record: Any = None, resident_ids: Iterable[int] = (), rows: int | None = None,
            detail: dict | None = None, actor: AuditActorLike | None = None) -> dict[str, Any]:
    record_type, record_id = _record_ref(record)
    if actor is None or isinstance(actor, System):
        # A domain function's "system" inside a CLI command or a task: the operator or task named there.
        actor = _acting.get() or actor or _actor()
    return {**actor_fields(actor), **_where(), "at": clock.now(),
            "action": AuditAction(action), "record_type": record_type, "record_id": record_id,
            "resident_ids": sorted({int(i) for i in resident_ids if i is not None}), "rows": rows,
            "detail": _normal_json(detail)}


def record(action: AuditAction | str, *, record: Any = None, resident_ids: Iterable[int] = (),
           rows: int | None = None, detail: dict | None = None, actor: AuditActorLike | None = None) -> AuditEntry:
    """Log one entry in the current transaction and return it (not attached to the session).

    The entry is written when the transaction commits (its id and hash are set then; a rolled-back
    transaction or SAVEPOINT drops it); :func:`write_queued` writes it at once if they are needed
    before. ``record`` is the one record acted on: a model instance or ``(record_type, id)``.
    ``detail`` must hold no personal value (mask it: :func:`masked`). The actor defaults to
    :func:`acting_as`'s, else the request's signed-in account, else the system.
    """
    return _queue(db.session(), [_fields(action, record=record, resident_ids=resident_ids, rows=rows,
                                         detail=detail, actor=actor)])[0]


def reads_audited() -> bool:
    """Whether reads are logged (SLRT_AUDIT); changes always are."""
    return bool(current_app.config["SLRT_AUDIT"])


def record_view(obj: Any, *, action: AuditAction = AuditAction.VIEW, detail: dict | None = None,
                actor: AuditActorLike | None = None, also: Iterable[int] = ()) -> AuditEntry | None:
    """Log a read of one record's page (a resident, household, case, referral, SMS body); ``also``: other
    residents the page shows (a resident's family members).

    In a request the entry is logged when the answer is ready (:func:`write_reads`); outside one, like
    :func:`record`'s (returned). None when deferred or when reads are not audited (SLRT_AUDIT).
    """
    if not reads_audited():
        return None
    return _read(_fields(action, record=obj, resident_ids=[*residents_of(obj), *also], detail=detail, actor=actor))


def record_list(action: AuditAction, *, record_type: str, resident_ids: Iterable[int], rows: int,
                detail: dict | None = None, actor: AuditActorLike | None = None) -> AuditEntry | None:
    """Log a list, search or export that showed personal data: what was asked in ``detail`` (no
    personal value: filter names, not a search term), the rows returned and the residents among
    them. Written like :func:`record_view`'s."""
    if not reads_audited():
        return None
    return _read(_fields(action, resident_ids=resident_ids, rows=rows, detail={"type": record_type, **(detail or {})},
                         actor=actor))


def _read(fields: dict[str, Any]) -> AuditEntry | None:
    if has_request_context():
        g.setdefault("slrt_audit_reads", []).append(fields)
        return None
    return _queue(db.session(), [fields])[0]


def write_reads() -> None:
    """Log the reads this request made and commit them.

    The request's own changes are its view's business: when it wrote something it has not committed,
    its reads join its transaction and share its fate; else the reads are committed on their own.
    """
    reads = g.pop("slrt_audit_reads", None)
    if not reads:
        return
    session = db.session()
    wrote = session.info.get("slrt_wrote")
    # Read entries only (and no change waiting for a flush): committed without waiting for the disk (a
    # database crash may lose the last fraction of a second of them, the chain stays whole); changes
    # keep full durability.
    relaxed = not wrote and not (session.new or session.dirty or session.deleted)
    # PostgreSQL, a session with a transaction of its own (bound to the engine, not to a connection whose
    # transaction is someone else's, as a test's is): one round trip.
    bind = session.get_bind()
    pipelined = (relaxed and bind.dialect.name == "postgresql" and isinstance(bind, Engine)
                 and not session.in_nested_transaction())
    if not pipelined:
        _queue(session, reads, as_entries=False)
    if wrote:
        return
    session.info[_RELAXED_KEY] = relaxed
    # The answer is made: what the page loaded is not expired (the session ends with the request).
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        if pipelined:
            missed = _commit_reads(session.connection(), reads)
            if missed:  # no head row (a database made without the migrations): written the long way
                _queue(session, missed, as_entries=False)
        session.commit()  # PostgreSQL, the reads committed: the connection is idle, nothing is sent
    finally:
        session.expire_on_commit = expire


def _commit_reads(connection: Connection, reads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PostgreSQL, a transaction that only read: append the ``reads`` (field dicts) and commit, in one
    round trip (psycopg's pipeline: the calls of ``audit_append`` and the COMMIT sent together, where
    the commit waits for the calls' answer otherwise); return the reads not written (no head row).

    The entries' hashes are the database's (:data:`_APPEND_CALL`). Each JSON's split around the time is
    checked before the call (:func:`canonical_around`); each hash against :func:`entry_hash` only after
    the commit (checking it before would cost the round trip saved): the database's hash follows the
    same recipe (the time's text as isoformat writes it, tested for any text and time zone), and one
    that is not the chain's, never seen, is logged and raised at once, and audit-verify names the entry
    from then on. Errors come as SQLAlchemy's (a lost connection invalidated, as SQLAlchemy does it).
    """
    calls = [(fields, _call_params(fields, relaxed=True)) for fields in reads]
    driver = connection.connection.driver_connection
    try:
        with driver.pipeline():
            cursors = []
            for _fields, params in calls:
                cursor = driver.cursor()
                cursor.execute(_APPEND_CALL, params)
                cursors.append(cursor)
            driver.commit()
    except psycopg.Error as error:  # as SQLAlchemy would say it: a lost connection is not used again
        lost = driver.broken or driver.closed
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(_APPEND_CALL, None, error, psycopg.Error, hide_parameters=True,
                                  connection_invalidated=lost, dialect=connection.dialect) from error
    missed = []
    for (fields, _params), cursor in zip(calls, cursors, strict=True):
        try:
            if not _settled(fields, None, cursor.fetchone()):
                missed.append(fields)
        except RuntimeError as error:  # committed by now
            log.error("%s; run flask slrt audit-verify", error)
            raise
    return missed


def residents_of(obj: Any) -> list[int]:
    """The residents whose personal data a record holds (a household's members, a case's resident)."""
    if isinstance(obj, Resident):
        return [obj.id]
    if isinstance(obj, Household):
        return list(db.session.scalars(select(Resident.id).where(Resident.household_id == obj.id)))
    if isinstance(obj, Case):
        return [obj.resident_id]
    if isinstance(obj, Referral):
        return [obj.case.resident_id]
    if isinstance(obj, FollowUp):
        return [obj.case.resident_id]
    if isinstance(obj, SmsMessage):
        if obj.resident_id is not None:
            return [obj.resident_id]
        return [obj.case.resident_id] if obj.case_id is not None else []
    return []


def residents_of_rows(rows: Iterable[Any]) -> list[int]:
    """The residents of a page of records (residents, households, cases, referrals, SMS, follow-ups):
    at most two queries, whatever the page's size."""
    found: set[int] = set()
    households: set[int] = set()
    cases: set[int] = set()
    for obj in rows:
        if isinstance(obj, Resident):
            found.add(obj.id)
        elif isinstance(obj, Household):
            households.add(obj.id)
        elif isinstance(obj, Case) or getattr(obj, "resident_id", None) is not None:
            found.add(obj.resident_id)
        elif getattr(obj, "case_id", None) is not None:  # a referral, a follow-up, an SMS of a case
            case = obj.__dict__.get("case")  # loaded with the page: no query
            if case is not None:
                found.add(case.resident_id)
            else:
                cases.add(obj.case_id)
    if households:
        found.update(db.session.scalars(select(Resident.id).where(Resident.household_id.in_(households))))
    if cases:
        found.update(db.session.scalars(select(Case.resident_id).where(Case.id.in_(cases))))
    return sorted(found)


def residents_of_query(model: type, ids) -> list[int]:
    """The residents of the records of ``model`` whose ids ``ids`` (a subquery) selects: an export's."""
    if model is Resident:
        query = select(ids.c[0])
    elif model is Household:
        query = select(Resident.id).where(Resident.household_id.in_(select(ids.c[0])))
    elif model is Case:
        query = select(Case.resident_id).where(Case.id.in_(select(ids.c[0])))
    elif model is SmsMessage:
        query = (select(func.coalesce(SmsMessage.resident_id, Case.resident_id))
                 .outerjoin(Case, Case.id == SmsMessage.case_id).where(SmsMessage.id.in_(select(ids.c[0]))))
    elif hasattr(model, "case_id"):
        query = select(Case.resident_id).join(model, model.case_id == Case.id).where(model.id.in_(select(ids.c[0])))
    else:
        return []
    return sorted({i for i in db.session.scalars(query.distinct()) if i is not None})


def concerns(resident_id: int):
    """An SQL condition: the entry touched resident ``resident_id`` (GIN index on PostgreSQL)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return type_coerce(_table.c.resident_ids, postgresql.ARRAY(BigInteger)).contains([int(resident_id)])
    return exists(select(1).select_from(func.json_each(_table.c.resident_ids).table_valued("value").alias("r"))
                  .where(text("r.value = :resident_id").bindparams(resident_id=int(resident_id))))


# --- Changes, from the session ----------------------------------------------------------------------------

#: The audited models and their record_type.
RECORD_TYPES: dict[type, str] = {
    Resident: "resident", Household: "household", Case: "case", Referral: "referral", Staff: "staff",
    Unit: "unit", Agency: "agency", AgencyContact: "contact", Service: "service", Document: "document",
    SmsTemplate: "template", SmsPause: "setting", SmsMessage: "sms", FollowUp: "follow_up",
}
#: Models whose changes the flush logs (an SMS or a follow-up is logged when read, not when the outbox
#: or the sweep moves it).
AUDITED = tuple(model for model in RECORD_TYPES if model not in (SmsMessage, FollowUp))
#: The action a change of these is logged as (else create/update/delete).
_CHANGE_ACTION = {SmsTemplate: AuditAction.TEMPLATE, SmsPause: AuditAction.SETTINGS}

_PHONE = "phone"
_NUMBER = "number"  # already masked (nik_masked, kk_masked)
#: Personal columns: how each is logged (masked phone, masked number, or just "(diubah)").
PERSONAL: dict[type, dict[str, str]] = {
    Resident: {"nik_masked": CHANGED, "name": CHANGED, "address": CHANGED, "phone": CHANGED,
               "phone_owner_name": CHANGED, "birth_date": CHANGED, "birth_place": CHANGED},
    Household: {"kk_masked": CHANGED, "address": CHANGED, "dtks_id": CHANGED},
    Case: {"summary": CHANGED, "outcome_note": CHANGED},
    Referral: {"reason": CHANGED, "completion_note": CHANGED},
    Staff: {"phone": _PHONE, "email": CHANGED, "password": CHANGED},
    AgencyContact: {"phone": _PHONE},
}
#: Columns not logged: secrets and lookups of personal values, the state machine's (logged as a
#: transition), and what the application keeps for itself (sign-in counters, reminder counts).
_STATE = {"status", "version", "resolved_at", "closed_at", "cancelled_at", "accepted_at", "in_process_at",
          "completed_at", "rejected_at", "reopened_at", "reopened_count"}
IGNORED: dict[type, set[str]] = {
    Resident: {"nik_encrypted", "nik_hash"},
    Household: {"kk_encrypted", "kk_hash"},
    Case: _STATE,
    Referral: _STATE | {"reminders_sent", "last_reminded_at", "escalated_at", "escalation_rung",
                        "resident_verification", "verification_asked_at"},
    # The authenticator's columns: a reset is logged as such (slrt.staff.reset_second_factor).
    Staff: {"last_login_at", "current_login_at", "last_login_ip", "current_login_ip", "login_count",
            "failed_login_count", "locked_until", "tf_totp_last_step", "fs_uniquifier", "tf_primary_method",
            "tf_totp_secret", "tf_phone_number"},
    SmsTemplate: {"updated_at", "updated_by_id"},
}


def masked(model: type, field: str, value: Any) -> Any:
    """``value`` of ``model.field`` as the log may hold it: personal values masked."""
    if value is None:
        return None
    how = PERSONAL.get(model, {}).get(field)
    if how is None or how == _NUMBER:
        return _normal_json(value)
    if how == _PHONE:
        return mask_phone(str(value))
    return CHANGED


def _changes(obj: Any, *, created: bool) -> dict[str, list]:
    model = type(obj)
    ignored = IGNORED.get(model, set())
    state = attributes.instance_state(obj)
    changes = {}
    for prop in state.mapper.column_attrs:
        key = prop.key
        if key in ignored or key == "id":
            continue
        history = attributes.get_history(obj, key, passive=attributes.PASSIVE_NO_INITIALIZE)
        if created:
            after = history.added[0] if history.added else state.dict.get(key)
            if after is not None:
                changes[key] = [None, masked(model, key, after)]
        elif history.added or history.deleted:
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                changes[key] = [masked(model, key, before), masked(model, key, after)]
    return changes


def _residents_in_flush(connection: Connection, obj: Any) -> list[int]:
    if isinstance(obj, Resident):
        return [obj.id]
    if isinstance(obj, Household):
        return list(connection.scalars(select(Resident.id).where(Resident.household_id == obj.id)))
    if isinstance(obj, Case):
        return [obj.resident_id]
    if isinstance(obj, Referral):
        return list(connection.scalars(select(Case.resident_id).where(Case.id == obj.case_id)))
    return []


def _after_flush(session: Session, _context) -> None:
    """Log the audited models' inserts, updates and deletes of this flush, in the same transaction."""
    session.info["slrt_wrote"] = True
    if session.info.get("slrt_audit_off"):
        return
    found = [(obj, AuditAction.CREATE) for obj in session.new if isinstance(obj, AUDITED)]
    found += [(obj, AuditAction.UPDATE) for obj in session.dirty if isinstance(obj, AUDITED)]
    found += [(obj, AuditAction.DELETE) for obj in session.deleted if isinstance(obj, AUDITED)]
    if not found:
        return
    connection = session.connection()
    entries = []
    for obj, action in found:
        changes = {} if action == AuditAction.DELETE else _changes(obj, created=action == AuditAction.CREATE)
        if action == AuditAction.UPDATE and not changes:
            continue  # nothing logged changed (a status: the transition's entry; a counter)
        model = type(obj)
        detail = {"fields": changes} if changes else None
        if model in _CHANGE_ACTION:
            detail = {"change": action.value, **(detail or {})}
            action = _CHANGE_ACTION[model]
        entries.append(_fields(action, record=obj, resident_ids=_residents_in_flush(connection, obj),
                               detail=detail))
    if entries:
        _queue(session, entries)


@contextmanager
def changes_not_logged(session: Session | None = None) -> Iterator[None]:
    """Leave the block's ORM changes out of the log: a bulk path that writes one entry of its own."""
    session = session or db.session()
    before = session.info.get("slrt_audit_off")
    session.info["slrt_audit_off"] = True
    try:
        yield
    finally:
        session.info["slrt_audit_off"] = before


def _orm_execute(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["slrt_wrote"] = True


def _before_commit(session: Session) -> None:
    """Write the transaction's queued entries as its last statements: at the outermost commit (a
    SAVEPOINT's release waits for it), after a last flush (its changes' entries)."""
    # SQLAlchemy fires before_commit for a SAVEPOINT's release too; Session.commit() releases the
    # open SAVEPOINTs before it commits the root, so the root's comes with none open.
    if session.in_nested_transaction():
        return
    session.flush()
    queued = session.info.pop(_QUEUE, None)
    relaxed = session.info.pop(_RELAXED_KEY, False)
    if queued:
        _write(session, queued, relaxed=relaxed)


def _within(transaction, ended) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _rolled_back(session: Session, transaction) -> None:
    """Drop the entries queued in ``transaction`` (a SAVEPOINT, or the root) and in those within it."""
    queued = session.info.get(_QUEUE)
    if queued:
        session.info[_QUEUE] = [item for item in queued if not _within(item[0], transaction)]


def _transaction_ended(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("slrt_wrote", None)
        session.info.pop(_RELAXED_KEY, None)
        session.info.pop(_QUEUE, None)  # written at commit, or dropped with a rollback


def init_app(app: Flask, *, signed_in=None) -> None:
    """Audit ``app``'s requests: ``signed_in()`` answers the request's signed-in Staff (or None); the
    reads a request logged are written and committed when its answer is ready."""
    app.extensions["slrt_audit_signed_in"] = signed_in
    for name, hook in (("after_flush", _after_flush), ("before_commit", _before_commit),
                       ("after_soft_rollback", _rolled_back), ("after_transaction_end", _transaction_ended),
                       ("do_orm_execute", _orm_execute)):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)

    @app.after_request
    def _write_reads(response: Response) -> Response:
        if response.status_code < 500:
            write_reads()
        return response


# --- The chain ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: the entries walked, the first and last moment, and the first broken
    entry (id, at, why) if any."""

    entries: int
    first_at: datetime | None
    last_at: datetime | None
    broken_id: int | None = None
    broken_at: datetime | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


@dataclass(frozen=True)
class Anchor:
    """An entry's id and hash kept outside the database (the daily log line, a printout in the office's
    file): :func:`verify` checks that the chain still holds it. Someone able to write to the database
    can rewrite the whole chain so that it verifies; they cannot change what was kept elsewhere."""

    id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.id}:{self.hash}"

    @classmethod
    def parse(cls, value: str) -> Anchor:
        """``ID:HASH`` as :meth:`__str__` writes it; ValueError when it is not one."""
        number, _, digest = value.strip().partition(":")
        digest = digest.lower()
        if not number.isdigit() or len(number) > 19 or len(digest) != 64 or set(digest) - set("0123456789abcdef"):
            raise ValueError(value)
        return cls(int(number), digest)


#: The chain's head as it stands (no lock): its newest entry's id and hash.
_READ_HEAD = select(_head_table.c.last_id, _head_table.c.last_hash).where(_head_table.c.id == 1)


def anchor() -> Anchor | None:
    """The chain's newest entry as an anchor to keep outside the database (None while the log is empty)."""
    head = db.session.execute(_READ_HEAD).first()
    return Anchor(head.last_id, head.last_hash) if head is not None and head.last_id is not None else None


def log_anchor() -> Anchor | None:
    """Write the chain's newest entry to the application log (shipped off the server): a daily anchor."""
    kept = anchor()
    if kept is not None:
        log.info("audit chain anchor %s", kept, extra={"audit_anchor": str(kept)})
    return kept


def verify(batch: int = 5000, anchors: Iterable[Anchor] = ()) -> Verdict:
    """Walk the chain in id order, recomputing each hash; stop at the first broken entry.

    Streams the rows (bounded memory at any size). The oldest kept entry may follow a dropped one:
    its prev_hash is then the one an "audit_purge" entry names. The chain's head row must name an
    entry walked: else the newest entries were removed (reason "head"). Each of ``anchors`` must be
    an entry walked with that hash (reason "anchor"), unless it is older than the oldest kept entry
    (retention dropped it).
    """
    expected = {kept.id: kept.hash for kept in anchors}
    # The head first: an entry committed during the walk is past it, so the walk meets the head's entry.
    head = db.session.execute(_READ_HEAD).first()
    purges = db.session.scalars(select(_table.c.detail).where(_table.c.action == AuditAction.AUDIT_PURGE.value))
    starts = {GENESIS} | {d.get("last_dropped_hash") for d in purges if isinstance(d, dict)}
    columns = [_table.c[name] for name in ("id", *HASHED, "prev_hash", "hash")]
    rows = db.session.execute(select(*columns).order_by(_table.c.id).execution_options(yield_per=batch))
    count, first_at, last_at, prev, met_head, first_id = 0, None, None, None, False, None
    for row in rows:
        fields = row._asdict()
        if prev is None:
            first_at = fields["at"]
            if fields["prev_hash"] not in starts:
                return Verdict(count, first_at, last_at, row.id, row.at, "prev_hash")
        elif fields["prev_hash"] != prev:
            return Verdict(count, first_at, last_at, row.id, row.at, "prev_hash")
        if entry_hash(fields["prev_hash"], fields) != fields["hash"]:
            return Verdict(count, first_at, last_at, row.id, row.at, "hash")
        if expected.pop(row.id, fields["hash"]) != fields["hash"]:
            return Verdict(count, first_at, last_at, row.id, row.at, "anchor")
        prev, last_at = fields["hash"], fields["at"]
        first_id = first_id or row.id
        count += 1
        met_head = met_head or (head is not None and prev == head.last_hash)
    rows.close()
    missing = sorted(kept for kept in expected if first_id is not None and kept >= first_id)
    if missing or (expected and first_id is None):  # an anchored entry the chain no longer has
        return Verdict(count, first_at, last_at, (missing or sorted(expected))[0], None, "anchor")
    if head is None and count:  # the migration made the row: it was removed (with the newest entries?)
        return Verdict(count, first_at, last_at, None, None, "head")
    if head is not None and head.last_hash != GENESIS and not met_head:
        # The head names an entry the walk never met: the newest entries were removed.
        return Verdict(count, first_at, last_at, head.last_id, None, "head")
    return Verdict(count, first_at, last_at)


# --- Partitions (PostgreSQL) and retention -------------------------------------------------------------------


def _month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _partition(start: datetime) -> str:
    return f"audit_entry_{start.year:04d}_{start.month:02d}"


def _partitions(connection: Connection) -> list[str]:
    return sorted(connection.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'audit_entry'::regclass")))


def ensure_partitions(months_ahead: int = 2) -> list[str]:
    """Create the monthly partitions from this month to ``months_ahead`` months ahead that are missing
    (PostgreSQL; nothing on SQLite) and return their names. Rows the DEFAULT partition holds for such a
    month move into it. The caller commits."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return []
    existing = set(_partitions(connection))
    created = []
    start = _month_start(clock.now())
    for _ in range(months_ahead + 1):
        end, name = _next_month(start), _partition(start)
        if name not in existing:
            bounds = {"lo": start, "hi": end}
            # A partition cannot be added while the DEFAULT one holds rows of its range: move them.
            connection.execute(text(f"CREATE TABLE {name} (LIKE audit_entry INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
            connection.execute(text(f"WITH moved AS (DELETE FROM audit_entry_default WHERE at >= :lo AND at < :hi "
                                    f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"), bounds)
            connection.execute(text(f"ALTER TABLE audit_entry ATTACH PARTITION {name} "
                                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"))
            created.append(name)
        start = end
    return created


def drop_months_before(day: date, *, actor: AuditActorLike | None = None) -> int:
    """Drop every entry of the whole months before ``day``'s month and return how many went.

    PostgreSQL drops those months' partitions (and deletes such rows of the DEFAULT one); SQLite
    deletes them. An "audit_purge" entry names the last dropped entry's hash, so the chain still
    verifies from the oldest kept entry. The caller commits.
    """
    cutoff = _month_start(day)
    connection, _head_row = _head(db.session())  # the chain's lock, as writers take it
    last = connection.execute(select(_table.c.id, _table.c.hash).where(_table.c.at < cutoff)
                              .order_by(_table.c.at.desc(), _table.c.id.desc()).limit(1)).first()
    if last is None:
        return 0
    dropped = connection.execute(select(func.count()).select_from(_table).where(_table.c.at < cutoff)).scalar_one()
    if connection.dialect.name == "postgresql":
        for name in _partitions(connection):
            match = PARTITION_NAME.fullmatch(name)
            if match and match.group(1) != "default":
                year, month = map(int, match.group(1).split("_"))
                if _next_month(datetime(year, month, 1, tzinfo=UTC)) <= cutoff:
                    connection.execute(text(f"DROP TABLE {name}"))
    connection.execute(_table.delete().where(_table.c.at < cutoff))  # the DEFAULT partition's, or SQLite's
    record(AuditAction.AUDIT_PURGE, actor=actor,
           detail={"before": cutoff.date().isoformat(), "entries": dropped, "last_dropped_id": last.id,
                   "last_dropped_hash": last.hash})
    return dropped
