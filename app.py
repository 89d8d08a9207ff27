"""Entry point and application factory: ``flask --app app``, ``celery -A app``, ``gunicorn app:application``.

The factory lives here, outside slrt/, because it wires the domain to its screens,
workers and gateways; slrt/ itself imports none of them. ``application`` and ``celery``
are built on first access (PEP 562), so importing this module has no side effects. The
Flask object is not called ``app``: Celery's ``-A app`` would take it for the Celery app.
"""


from __future__ import annotations

import os
import sys

from flask import Flask, current_app, request, session
from flask_babel import get_locale
from psycopg.errors import DeadlockDetected, SerializationFailure
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

import slrt.models  # noqa: F401  (register every table on the metadata)
from admin_views import init_admin
from admin_views.errors import init_errors, render_error
from admin_views.metrics import init_metrics
from admin_views.security import signed_in_staff
from slrt import audit, config, logs, outbox
from slrt.cli import slrt_cli
from slrt.extensions import babel, begin_write, db, init_sqlite, migrate
from slrt.pii import vault
from sms import init_gateways, init_webhooks
from tasks import celery_init_app
from tasks.outbox import init_dispatch


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: settings, extensions, Celery, screens and CLI."""
    app = Flask("slrt", instance_relative_config=True)
    app.config.from_mapping(config.load(app.instance_path, test_config))
    logs.init_app(app)  # one format, each request's lines with its id
    init_errors(app)  # first: a request holding NUL is refused before anything reads it
    if app.config["SLRT_PROXY_HOPS"]:
        # What the browser (or Twilio) used, as the TLS proxy saw it: the client's address (sign-in
        # locks count per address), https and the public host name (request.url, external links and
        # the webhook signatures' URL). Without the setting, forwarded headers are anyone's and ignored.
        hops = app.config["SLRT_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    db.init_app(app)
    with app.app_context():
        init_sqlite(db.engine)
    outbox.init_app(app)  # the queued-message hooks and this app's sending-pause reader
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations"),
                     render_as_batch=True, compare_type=True)
    vault.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, default_translation_directories="translations")
    app.jinja_env.globals["get_locale"] = get_locale

    init_gateways(app)
    celery_init_app(app)
    init_dispatch(app)  # send tasks queued after each commit that wrote messages
    init_admin(app)
    audit.init_app(app, signed_in=signed_in_staff)  # who read or changed whose data
    init_webhooks(app)
    init_metrics(app)

    @app.before_request
    def _writers_queue_up() -> None:
        # A request that changes things takes SQLite's write lock first (no-op elsewhere).
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            begin_write()

    @app.errorhandler(OperationalError)
    def _database_busy(exc: OperationalError):
        # SQLite's write lock held past the busy timeout by another process (a long import or
        # sweep), or PostgreSQL ending this transaction to break a deadlock (two changes in one
        # unit's tallies): nothing was saved, and the clerk is asked to send again, not shown a crash.
        db.session.rollback()
        if "database is locked" not in str(exc) and not isinstance(exc.orig, DeadlockDetected | SerializationFailure):
            raise exc
        page, status = render_error(503)
        return page, status, {"Retry-After": "5", "Cache-Control": "no-store"}

    app.cli.add_command(slrt_cli)
    return app


def _select_locale() -> str:
    """The language chosen on screen (?lang=en, kept in the session), else the default."""
    try:
        chosen = request.args.get("lang")
    except RuntimeError:  # no request: CLI or a worker
        return current_app.config["SLRT_DEFAULT_LOCALE"]
    if chosen in ("id", "en"):
        session["lang"] = chosen
    return session.get("lang") or current_app.config["SLRT_DEFAULT_LOCALE"]


_built: dict[str, object] = {}


def __getattr__(name: str):
    """Build the process's app on first use of ``application`` or ``celery``."""
    if name not in ("application", "celery"):
        raise AttributeError(name)
    if not _built:
        # `celery -A app` imports this module with the working directory on sys.path only
        # for the import itself; the app is built later, so make the project importable.
        here = os.path.dirname(os.path.abspath(__file__))
        if here not in sys.path:
            sys.path.insert(0, here)
        _built["application"] = create_app()
        _built["celery"] = _built["application"].extensions["celery"]
    return _built[name]
