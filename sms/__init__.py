"""SMS gateways behind slrt.ports.SmsGateway (console, Twilio, Android phone), the send rate and webhooks."""

from __future__ import annotations

from flask import Flask, current_app


def init_gateways(app: Flask) -> None:
    """Build the configured gateway and send-rate limiter once per app (SLRT_SMS_GATEWAY, SLRT_SMS_RATE)."""
    from sms import ratelimit

    name = app.config["SLRT_SMS_GATEWAY"]
    if name == "console":
        from sms.console import ConsoleGateway

        gateway = ConsoleGateway()
    elif name == "twilio":
        from sms.twilio import TwilioGateway

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
    app.extensions["slrt_sms_gateway"] = gateway
    # Every configured gateway by name: the primary, and the Android phone beside it when set.
    gateways = {gateway.name: gateway}
    if app.config.get("SLRT_ANDROID_URL") and "android" not in gateways:
        gateways["android"] = _android(app)
    app.extensions["slrt_sms_gateways"] = gateways
    app.extensions["slrt_sms_limiter"] = ratelimit.build(float(app.config["SLRT_SMS_RATE"]),
                                                          str(app.config["CELERY_BROKER_URL"]))


def _android(app: Flask):
    from sms.android import AndroidGateway

    return AndroidGateway(app.config["SLRT_ANDROID_LOGIN"], app.config["SLRT_ANDROID_PASSWORD"],
                          app.config["SLRT_ANDROID_URL"], float(app.config["SLRT_SMS_TIMEOUT"]))


def init_webhooks(app: Flask) -> None:
    """Mount the SMS webhooks, Twilio's and the Android phone's (signature-checked, so exempt from CSRF)."""
    from sms.webhooks import bp

    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)


def gateway():
    return current_app.extensions["slrt_sms_gateway"]


def limiter():
    return current_app.extensions["slrt_sms_limiter"]


def reports_delivery() -> bool:
    """Does the gateway send delivery receipts (so a missing one means something)?"""
    return gateway().name == "twilio"


def callback_url(message_id: int) -> str | None:
    """Where the provider reports this message's delivery; None when the gateway reports none."""
    if not reports_delivery():
        return None
    return f"{current_app.config['SLRT_PUBLIC_URL'].rstrip('/')}/sms/twilio/status/{message_id}"
