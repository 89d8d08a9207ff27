"""Readiness: is every part the service needs working? One report for ``/readyz`` and ``flask slrt check``.

The parts: the database (reachable, migrated to the code's head), the Celery broker, each
worker by name (its last heartbeat), beat (its last tick), the outbox (messages waiting, the
oldest due one) and whether sending is paused. Ready only when every part is within its
threshold (``SLRT_READY_*`` settings); each failing part is named with why.

The broker is reached through the probe the Celery side registers (``app.extensions
["slrt_broker_check"]``: returns None or what went wrong), since slrt/ knows no Celery.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from slrt import clock, ops, outbox
from slrt.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """One part of the report: its name, whether it is fine, its facts, and what is wrong."""

    name: str
    ok: bool
    facts: dict[str, object] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class Readiness:
    """The whole report, part by part, in a fixed order."""

    parts: list[Part]

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts)

    @property
    def failing(self) -> list[str]:
        return [part.name for part in self.parts if not part.ok]

    def as_dict(self) -> dict[str, object]:
        """The report as JSON for ``/readyz``: status, the failing parts by name, each part's facts."""
        return {
            "status": "ok" if self.ok else "failing",
            "failing": {part.name: part.problem for part in self.parts if not part.ok},
            "checks": {part.name: {"ok": part.ok, **part.facts} for part in self.parts},
        }

    def lines(self) -> list[str]:
        """The report as text, one line per part, for ``flask slrt check``."""
        out = []
        for part in self.parts:
            said = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in part.facts.items()
                             if not isinstance(value, dict))
            state = "ok" if part.ok else f"FAILING: {part.problem}"
            out.append(f"{part.name:<10}: {state}" + (f" ({said})" if said else ""))
            for name, worker in part.facts.get("workers", {}).items():
                state = "alive" if worker["ok"] else "DOWN"
                out.append(f"  {name}: {state}, last heartbeat {worker['age_seconds']} s ago")
        out.append("ready     : " + ("yes" if self.ok else "NO: " + ", ".join(self.failing)))
        return out


def readiness() -> Readiness:
    """Check every part now (the database, the broker, workers, beat, outbox, sending)."""
    parts = []
    database = _database()
    parts.append(database)
    parts.append(_broker())
    if database.ok:
        for check in (_migrations, _workers, _beat, _outbox, _sending):
            try:
                parts.append(check())
            except SQLAlchemyError as exc:
                _rollback()
                parts.append(Part(check.__name__.lstrip("_"), False, problem=f"database error: {type(exc).__name__}"))
    else:
        parts += [Part(name, False, problem="database unreachable")
                  for name in ("migrations", "workers", "beat", "outbox", "sending")]
    return Readiness(parts)


def _database() -> Part:
    try:
        db.session.execute(select(1))
    except SQLAlchemyError as exc:
        _rollback()
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        return Part("database", False, problem=f"unreachable ({type(exc).__name__})")
    return Part("database", True, {"dialect": db.engine.dialect.name})


def _rollback() -> None:
    with suppress(SQLAlchemyError):
        db.session.rollback()


def _broker() -> Part:
    probe = current_app.extensions.get("slrt_broker_check")
    if probe is None:
        return Part("broker", False, problem="no broker check registered")
    problem = probe()
    return Part("broker", problem is None, problem=f"unreachable ({problem})" if problem else None)


@lru_cache(maxsize=4)
def _script_heads(directory: str) -> tuple[str, ...]:
    """The code's migration head(s); read once per process (the scripts do not change under it)."""
    return tuple(sorted(ScriptDirectory(directory).get_heads()))


def _migrations() -> Part:
    heads = _script_heads(current_app.extensions["migrate"].directory)
    current = tuple(sorted(MigrationContext.configure(db.session.connection()).get_current_heads()))
    facts = {"current": ",".join(current) or "none", "head": ",".join(heads)}
    if current != heads:
        return Part("migrations", False, facts, "the database is not at the code's migration head: flask db upgrade")
    return Part("migrations", True, facts)


def _age(at: datetime, now: datetime) -> int:
    return max(0, round((now - clock.as_utc(at)).total_seconds()))


def _workers() -> Part:
    now, limit = clock.now(), ops.stale_after()
    workers = {row.name: {"age_seconds": _age(row.at, now), "ok": now - clock.as_utc(row.at) < limit}
               for row in ops.heartbeats(ops.WORKER)}
    facts = {"workers": workers}
    if not workers:
        return Part("workers", False, facts, "no worker has recorded a heartbeat")
    down = [name for name, worker in workers.items() if not worker["ok"]]
    if down:
        return Part("workers", False, facts,
                    f"no heartbeat for more than {limit.total_seconds():g} s from: {', '.join(down)}")
    return Part("workers", True, facts)


def _beat() -> Part:
    now, limit = clock.now(), ops.stale_after()
    rows = ops.heartbeats(ops.BEAT)
    if not rows:
        return Part("beat", False, {}, "beat has never ticked")
    age = _age(rows[0].at, now)
    facts = {"last_tick_age_seconds": age}
    if now - clock.as_utc(rows[0].at) >= limit:
        return Part("beat", False, facts, f"no tick for more than {limit.total_seconds():g} s")
    return Part("beat", True, facts)


def _outbox() -> Part:
    cfg, now = current_app.config, clock.now()
    waiting = outbox.backlog()
    oldest = _age(waiting.oldest_due_at, now) if waiting.oldest_due_at else None
    facts = {"waiting": waiting.waiting, "oldest_due_age_seconds": oldest}
    if waiting.waiting > cfg["SLRT_READY_BACKLOG"]:
        return Part("outbox", False, facts,
                    f"{waiting.waiting} messages waiting, more than {cfg['SLRT_READY_BACKLOG']}")
    limit = timedelta(minutes=cfg["SLRT_READY_OUTBOX_MINUTES"])
    if waiting.oldest_due_at and now - waiting.oldest_due_at > limit:
        return Part("outbox", False, facts, f"a due message has waited more than {limit.total_seconds() / 60:g} min")
    return Part("outbox", True, facts)


def _sending() -> Part:
    pause = outbox.active_pause()
    if pause is None:
        return Part("sending", True, {"paused": False})
    return Part("sending", False, {"paused": True, "paused_at": clock.as_utc(pause.paused_at).isoformat(),
                                   "code": pause.code},
                "paused after the provider refused the account; a manager resumes it on the messages screen")
