"""SMS gateways behind slrt.ports.SmsGateway (console, Twilio, Android phone), the send rate and webhooks.

Adapters only: which gateway a message takes and when it is sent again is slrt.sending's.
"""

from __future__ import annotations

from flask import Flask, current_app

from slrt.sending import Gateways, parse_routes
from sms import ratelimit
from sms.android import AndroidGateway
from sms.console import ConsoleGateway
from sms.twilio import TwilioGateway
from sms.webhooks import bp


def init_gateways(app: Flask) -> None:
    """Build the configured gateways and their send rates once per app (SLRT_SMS_GATEWAY, SLRT_SMS_RATE, ...)."""
    name = app.config["SLRT_SMS_GATEWAY"]
    if name == "console":
        gateway = ConsoleGateway()
    elif name == "twilio":
        gateway = TwilioGateway(
            app.config["TWILIO_ACCOUNT_SID"],
            app.config["TWILIO_AUTH_TOKEN"],
            from_number=app.config["TWILIO_FROM_NUMBER"] or None,
            messaging_service_sid=app.config["TWILIO_MESSAGING_SERVICE_SID"] or None,
            timeout=float(app.config["SLRT_SMS_TIMEOUT"]),
            validity_period=int(app.config["SLRT_SMS_VALIDITY_SECONDS"]),
            api_base=app.config["SLRT_TWILIO_API_BASE"] or None,
        )
    elif name == "android":
        gateway = _android(app)
    else:
        raise RuntimeError(f"unknown SLRT_SMS_GATEWAY {name!r} (available: console, twilio, android)")
    # Every configured gateway by name: the primary, and the Android phone beside it when set.
    by_name = {gateway.name: gateway}
    if app.config.get("SLRT_ANDROID_URL") and "android" not in by_name:
        by_name["android"] = _android(app)
    broker = str(app.config["CELERY_BROKER_URL"])
    limiter = ratelimit.build(float(app.config["SLRT_SMS_RATE"]), broker)
    # Each gateway keeps its own pace: the phone sends about 100 an hour, Twilio what was bought.
    limiters = {gateway.name: limiter}
    if "android" in by_name and gateway.name != "android":
        limiters["android"] = ratelimit.build(float(app.config["SLRT_ANDROID_RATE_PER_HOUR"]) / 3600, broker,
                                              key="slrt:sms:next-slot:android")
    app.extensions["slrt_sms"] = Gateways(primary=gateway, by_name=by_name, limiter=limiter, limiters=limiters,
                                          routes=parse_routes(str(app.config["SLRT_SMS_ROUTES"]), set(by_name)))


def gateways() -> Gateways:
    """This app's gateways, send rates and routes (built by :func:`init_gateways`)."""
    return current_app.extensions["slrt_sms"]


def _android(app: Flask) -> AndroidGateway:
    return AndroidGateway(app.config["SLRT_ANDROID_LOGIN"], app.config["SLRT_ANDROID_PASSWORD"],
                          app.config["SLRT_ANDROID_URL"], float(app.config["SLRT_SMS_TIMEOUT"]),
                          ttl=int(app.config["SLRT_SMS_VALIDITY_SECONDS"]))


def init_webhooks(app: Flask) -> None:
    """Mount the SMS webhooks, Twilio's and the Android phone's (signature-checked, so exempt from CSRF)."""
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)
