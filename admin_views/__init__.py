"""Staff screens. Until the Flask-Admin screens land, a status page over the live data."""

from __future__ import annotations

from flask import Flask


def init_admin(app: Flask) -> None:
    from admin_views.home import bp

    app.register_blueprint(bp)
