"""SMS gateways behind slrt.ports.SmsGateway (console, Twilio, Android phone), the send rate and webhooks."""

from __future__ import annotations

from flask import Flask, current_app

from slrt import notices
from slrt.reminders import DIGEST_KEY


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
    broker = str(app.config["CELERY_BROKER_URL"])
    app.extensions["slrt_sms_limiter"] = ratelimit.build(float(app.config["SLRT_SMS_RATE"]), broker)
    # Each gateway keeps its own pace: the phone sends about 100 an hour, Twilio what was bought.
    limiters = {gateway.name: app.extensions["slrt_sms_limiter"]}
    if "android" in gateways and gateway.name != "android":
        limiters["android"] = ratelimit.build(float(app.config["SLRT_ANDROID_RATE_PER_HOUR"]) / 3600, broker,
                                              key="slrt:sms:next-slot:android")
    app.extensions["slrt_sms_limiters"] = limiters
    app.extensions["slrt_sms_routes"] = parse_routes(str(app.config["SLRT_SMS_ROUTES"]), set(gateways))


#: Kinds of message a sending policy can route (SLRT_SMS_ROUTES="digest=android,reply=android").
ROUTE_KINDS = ("resident", "agency", "staff", "digest", "reply")


def parse_routes(spec: str, configured: set[str]) -> dict[str, str]:
    """Read ``kind=gateway,...``; refuse a kind or gateway this deployment does not have."""
    routes = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, name = (x.strip() for x in part.partition("="))
        if kind not in ROUTE_KINDS or name not in configured:
            raise RuntimeError(f"SLRT_SMS_ROUTES: {part!r} (kinds: {', '.join(ROUTE_KINDS)}; "
                               f"gateways: {', '.join(sorted(configured))})")
        routes[kind] = name
    return routes


def kind_of(template_key: str | None, audience: str) -> str:
    if notices.is_reply(template_key):
        return "reply"
    if template_key == DIGEST_KEY:
        return "digest"
    return str(audience)


def route(template_key: str | None, audience: str, preset: str | None = None) -> str:
    """The gateway a message goes out on: the one it must answer on (a reply), else the policy's."""
    if preset in current_app.extensions["slrt_sms_gateways"]:
        return preset  # a reply goes back on the channel the message came in on; a retry stays put
    # Routes name configured gateways only (parse_routes checked them at start-up).
    return current_app.extensions["slrt_sms_routes"].get(kind_of(template_key, audience)) or gateway().name


def gateway_named(name: str):
    return current_app.extensions["slrt_sms_gateways"].get(name) or gateway()


def limiter_for(name: str):
    return current_app.extensions["slrt_sms_limiters"].get(name) or limiter()


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


#: Gateways that report delivery, and how: Twilio by a status callback to a URL that carries
#: our id; the Android phone by its sms:sent / sms:delivered / sms:failed webhooks (registered
#: on the phone, see sms/webhooks.py). The console reports nothing.
_RECEIPTS = {"twilio": "callback", "android": "webhook"}


def reports_delivery(name: str | None = None) -> bool:
    """Does the gateway send delivery receipts (so a missing one means something)?"""
    return (name or gateway().name) in _RECEIPTS


def callback_url(message_id: int, name: str | None = None) -> str | None:
    """Where the provider reports this message's delivery; None when it takes no per-message URL."""
    if _RECEIPTS.get(name or gateway().name) != "callback":
        return None  # the phone posts to the webhooks registered on it
    return f"{current_app.config['SLRT_PUBLIC_URL'].rstrip('/')}/sms/twilio/status/{message_id}"


def receipt_gateways() -> dict:
    """The configured gateways that report delivery, by name: those asked about late receipts."""
    return {name: each for name, each in current_app.extensions["slrt_sms_gateways"].items()
            if reports_delivery(name)}
