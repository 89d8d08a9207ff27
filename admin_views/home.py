"""Public endpoints: a health check for load balancers (no personal data, no sign-in)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from slrt import ops
from slrt.extensions import db

bp = Blueprint("home", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: the database answers; says whether the background worker beats."""
    db.session.execute(select(1))
    return {"status": "ok", "worker_alive": ops.is_alive("worker")}
