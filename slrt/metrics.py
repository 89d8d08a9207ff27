"""The figures the operator's monitoring reads (``/metrics``): the outbox, sending, the heartbeats, the runs.

Read from the database at each scrape, so every web process answers the same whatever
worker did the work: messages by status and gateway; the backlog and since when its oldest
due message waited (as ``/readyz`` counts them); each worker's and beat's last heartbeat; how
long the last hour's messages waited before the provider took them; the provider's refusals
by code; whether sending is paused; and each kind of run (slrt.runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from slrt import clock, ops, outbox
from slrt.extensions import db
from slrt.models import JobRun, SmsAttempt, SmsMessage
from slrt.models.enums import SmsDirection, SmsStatus

#: The latency quantiles given, and how many of the last hour's messages are read for them at most.
QUANTILES = (0.5, 0.9, 0.99)
_LATENCY_SAMPLE = 20_000


@dataclass
class OutboxFigures:
    #: (status, gateway) -> outbound messages; gateway "" while none took it yet.
    messages: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Waiting to be sent, and since when the oldest due one has waited (as /readyz counts them).
    waiting: int = 0
    oldest_due_seconds: float = 0.0
    #: Seconds from queued to taken by the provider, for the last hour's messages.
    latency: dict[float, float] = field(default_factory=dict)
    sent_last_hour: int = 0
    #: (gateway, error code) -> failed attempts, ever.
    provider_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    paused: bool = False


def outbox_figures(now: datetime | None = None) -> OutboxFigures:
    now = now or clock.now()
    figures = OutboxFigures(paused=outbox.sending_paused())
    outbound = SmsMessage.direction == SmsDirection.OUTBOUND
    for status, gateway, count in db.session.execute(
            select(SmsMessage.status, SmsMessage.gateway, func.count()).where(outbound)
            .group_by(SmsMessage.status, SmsMessage.gateway)):
        figures.messages[(SmsStatus(status).value, gateway or "")] = count
    backlog = outbox.backlog()
    figures.waiting = backlog.waiting
    if backlog.oldest_due_at is not None:
        figures.oldest_due_seconds = max(0.0, (now - backlog.oldest_due_at).total_seconds())
    waits = sorted(
        (clock.as_utc(sent) - clock.as_utc(created)).total_seconds()
        for created, sent in db.session.execute(
            select(SmsMessage.created_at, SmsMessage.sent_at).where(
                outbound, SmsMessage.sent_at >= now - timedelta(hours=1))
            .order_by(SmsMessage.sent_at.desc()).limit(_LATENCY_SAMPLE)))
    figures.sent_last_hour = len(waits)
    if waits:
        figures.latency = {q: max(0.0, waits[min(len(waits) - 1, int(q * len(waits)))]) for q in QUANTILES}
    for gateway, code, count in db.session.execute(
            select(SmsAttempt.gateway, SmsAttempt.error_code, func.count())
            .group_by(SmsAttempt.gateway, SmsAttempt.error_code)):
        figures.provider_errors[(gateway or "", code or "")] = count
    return figures


def heartbeat_ages(now: datetime | None = None) -> dict[tuple[str, str], float]:
    """(kind, name) -> seconds since each worker's and beat's last heartbeat."""
    now = now or clock.now()
    return {(kind, row.name): max(0.0, (now - clock.as_utc(row.at)).total_seconds())
            for kind in (ops.WORKER, ops.BEAT) for row in ops.heartbeats(kind)}


def runs() -> list[JobRun]:
    """Each kind of run counted so far (reminder sweeps, set-up imports)."""
    return list(db.session.scalars(select(JobRun).order_by(JobRun.name)))
