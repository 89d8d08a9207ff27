"""The home page: what the office needs to know at a glance, with no personal data."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from slrt import clock, ops
from slrt.extensions import db
from slrt.models import Case, Referral, SmsMessage
from slrt.models.enums import REFERRAL_ACTIVE, CaseStatus, SmsStatus

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index():
    now = clock.now()
    open_cases = db.session.scalar(
        select(func.count()).select_from(Case).where(Case.status.in_((CaseStatus.OPEN, CaseStatus.IN_PROGRESS)))
    )
    active = db.session.scalar(select(func.count()).select_from(Referral).where(Referral.status.in_(REFERRAL_ACTIVE)))
    overdue = db.session.scalar(
        select(func.count()).select_from(Referral).where(Referral.status.in_(REFERRAL_ACTIVE), Referral.due_at < now)
    )
    sms_pending = db.session.scalar(
        select(func.count()).select_from(SmsMessage).where(SmsMessage.status == SmsStatus.PENDING)
    )
    worker_at = ops.last_beat("worker")
    return render_template(
        "home.html",
        open_cases=open_cases,
        active_referrals=active,
        overdue_referrals=overdue,
        sms_pending=sms_pending,
        worker_alive=ops.is_alive("worker"),
        worker_at=clock.to_local(worker_at) if worker_at else None,
    )


@bp.get("/healthz")
def healthz():
    """Liveness for a load balancer: the database answers."""
    db.session.execute(select(1))
    return {"status": "ok", "worker_alive": ops.is_alive("worker")}
