"""SMS gateways behind slrt.ports.SmsGateway: the console gateway (embedded default), Twilio next."""

from __future__ import annotations

from flask import Flask, current_app


def init_gateways(app: Flask) -> None:
    """Build the configured gateway once per app (SLRT_SMS_GATEWAY)."""
    name = app.config["SLRT_SMS_GATEWAY"]
    if name == "console":
        from sms.console import ConsoleGateway

        gateway = ConsoleGateway()
    else:
        raise RuntimeError(f"unknown SLRT_SMS_GATEWAY {name!r} (available: console)")
    app.extensions["slrt_sms_gateway"] = gateway


def gateway():
    return current_app.extensions["slrt_sms_gateway"]
