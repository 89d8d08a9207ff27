"""The real app behind a real HTTP server, and Debian's chromium driven by Playwright, for the browser tests.

``live_app`` makes the app on a migrated SQLite database of its own, ``serving`` serves it on a
free local port, ``need_chromium`` skips a test where the browser is missing and ``chromium``
launches it (conftest's ``browser`` fixture: one for each test module).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from slrt.pii import new_key

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: In a container (no sandbox, no GPU), and quiet: nothing fetched that the test did not ask for.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def need_chromium() -> None:
    """Skip the test where Debian's chromium is not installed; fail in CI, where .ci/run installs it."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def live_app(path: Path, secret: str, **config) -> Flask:
    """The app on an empty, migrated SQLite database (and broker) in ``path``; ``config`` adds settings.

    ``secret`` is its secret key and Android signing key (given, so nothing is kept in the
    repository's instance/ folder).
    """
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path / 'live.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{path / 'broker.sqlite'}",
        "SLRT_PII_KEY": new_key(), "SECRET_KEY": secret, "SLRT_PASSWORD_HASH": "plaintext",
        "SLRT_ANDROID_SIGNING_KEY": secret,
        **config,
    })
    with app.app_context():
        upgrade()
    return app


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` over HTTP (werkzeug, threaded) on a free local port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def chromium():
    """Debian's chromium, launched by Playwright (which downloads no browser of its own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
