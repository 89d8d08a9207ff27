"""Behind the TLS proxy (SLRT_PROXY_HOPS): the app sees the public https address the browser and
Twilio used, and the client's own address; without it, forwarded headers change nothing."""

from __future__ import annotations

import pytest
from flask import request, url_for
from flask_migrate import upgrade
from twilio.request_validator import RequestValidator

from app import create_app
from slrt.extensions import db
from slrt.pii import new_key

TOKEN = "proxy-test-token-0123456789"
#: What the operator wrote in SLRT_PUBLIC_URL: the server's own address, not the public one.
INTERNAL = "http://10.0.0.5:8000"
PROXY = {"X-Forwarded-For": "36.71.12.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "slrt.blorakab.go.id"}


def _app(tmp_path, hops: int):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.sqlite'}", "SECRET_KEY": "x",
                      "SLRT_PII_KEY": new_key(), "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'b.sqlite'}",
                      "SLRT_PROXY_HOPS": hops, "TWILIO_AUTH_TOKEN": TOKEN, "SLRT_PUBLIC_URL": INTERNAL,
                      "SLRT_SMS_DISPATCH": False})
    with app.app_context():
        upgrade()
    return app


def _inbound(app, signed_for: str):
    form = {"From": "+6281325550177", "Body": "CEK 12345-6", "MessageSid": "SM0001"}
    signature = RequestValidator(TOKEN).compute_signature(signed_for + "/sms/twilio/inbound", form)
    with app.app_context():
        return app.test_client().post("/sms/twilio/inbound", data=form,
                                      headers={"X-Twilio-Signature": signature, **PROXY})


@pytest.mark.parametrize(("hops", "status"), [(1, 200), (0, 403)])
def test_a_webhook_signed_for_the_public_https_address_is_taken_only_through_the_proxy(tmp_path, hops, status):
    app = _app(tmp_path, hops)
    assert _inbound(app, "https://slrt.blorakab.go.id").status_code == status
    with app.app_context():
        db.engine.dispose()


def test_links_and_addresses_are_the_public_ones(tmp_path):
    app = _app(tmp_path, 1)

    @app.get("/_where")
    def where():
        return {"url": request.url, "secure": request.is_secure, "client": request.remote_addr,
                "login": url_for("security.login", _external=True)}

    with app.app_context():
        seen = app.test_client().get("/_where", headers=PROXY).get_json()
        db.engine.dispose()
    assert seen == {"url": "https://slrt.blorakab.go.id/_where", "secure": True, "client": "36.71.12.9",
                    "login": "https://slrt.blorakab.go.id/login"}
