"""The embedded default gateway: writes each SMS to the log and accepts it at once."""

from __future__ import annotations

import logging
import uuid

log = logging.getLogger("slrt.sms.console")


class ConsoleGateway:
    """Accepts every message; for development and the demo (nothing leaves the machine)."""

    name = "console"
    #: Nothing leaves the machine, so nothing reports delivery.
    receipts = None

    def __init__(self) -> None:
        self._sent: dict[str, str] = {}

    @staticmethod
    def callback_path(message_id: int) -> None:
        return None

    def send(self, *, to: str, body: str, reference: str, callback_url: str | None) -> str:
        provider_id = f"console-{uuid.uuid4().hex[:16]}"
        self._sent[reference] = provider_id
        # The console is the demo's phone screen: the body is shown, the number masked.
        log.info("SMS to %s****%s [%s]: %s", to[:6], to[-3:], reference, body)
        return provider_id

    def lookup(self, *, to, body, reference, since, exclude=()) -> str | None:
        found = self._sent.get(reference)
        return None if found in exclude else found

    def status(self, provider_id: str) -> tuple[str | None, None]:
        """Nothing leaves the machine, so nothing is ever confirmed delivered: (None, None).

        The console reports no delivery (``receipts`` is None), so nobody waits for a receipt
        from it and the reconciliation never asks it; saying "delivered" would be untrue.
        """
        return None, None
