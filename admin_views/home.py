"""Public probes for load balancers and monitors: no sign-in, no session cookie, no personal data.

``/healthz`` says the web process is up (no database call); ``/readyz`` says whether every part
the service needs works (slrt.health decides), 503 naming the failing parts when not.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from slrt import health
from slrt.extensions import db

bp = Blueprint("home", __name__)

#: Endpoints that neither read nor write the session (no cookie set, no user loaded): the probes,
#: and Prometheus's scrape of /metrics (admin_views.metrics; prometheus-flask-exporter names it).
PROBES = frozenset({"home.healthz", "home.readyz", "prometheus_metrics"})


@bp.get("/healthz")
def healthz():
    """Liveness: this process answers. Touches nothing else, so it stays cheap and cannot fail on a dependency."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Readiness: 200 when every part is within its threshold, else 503 with the failing parts named."""
    report = health.readiness()
    db.session.remove()
    return jsonify(report.as_dict()), 200 if report.ok else 503
