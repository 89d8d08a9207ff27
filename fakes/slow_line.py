"""The slow office line of issue 13 in Chromium: 300 ms latency, 50 KiB/s each way, the CPU slowed 4x.

``SlowLine`` opens a page in a Playwright browser context, throttles it through the Chrome
DevTools Protocol (Network.emulateNetworkConditions, Emulation.setCPUThrottlingRate) and
counts what each load sends over the line: requests not served from the browser's cache, and
the bytes received. ``sign_in`` signs a demo account in over HTTP alone, so no page is
rendered and the browser cache stays as it was. tests/test_slow_line.py and
bench/slow_line.py share them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

LATENCY_MS = 300
#: Bytes per second, each way.
THROUGHPUT = 50 * 1024
CPU_SLOWDOWN = 4


@dataclass
class Load:
    """One page load: seconds to the load event, what went over the line."""

    seconds: float
    #: Addresses asked of the server (not from the cache), the page first.
    requests: list[str] = field(default_factory=list)
    received_bytes: int = 0


class SlowLine:
    """A page on the slow line."""

    def __init__(self, context) -> None:
        self.page = context.new_page()
        self.cdp = context.new_cdp_session(self.page)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": LATENCY_MS,
            "downloadThroughput": THROUGHPUT, "uploadThroughput": THROUGHPUT,
        })
        self.cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        self._sent: dict[str, str] = {}
        self._cached: set[str] = set()
        self._received = 0
        self.cdp.on("Network.requestWillBeSent", self._sending)
        self.cdp.on("Network.requestServedFromCache", lambda event: self._cached.add(event["requestId"]))
        self.cdp.on("Network.loadingFinished", self._finished)

    def _sending(self, event) -> None:
        url = event["request"]["url"]
        if not url.startswith("data:"):
            self._sent.setdefault(event["requestId"], url)

    def _finished(self, event) -> None:
        self._received += event["encodedDataLength"]

    def load(self, url: str) -> Load:
        """Open ``url`` and wait for its load event."""
        self._sent.clear()
        self._cached.clear()
        self._received = 0
        self.page.goto(url, wait_until="load")
        seconds = self.page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }"
        ) / 1000
        time.sleep(0.3)  # the last Network.loadingFinished events
        requests = [url for request_id, url in self._sent.items() if request_id not in self._cached]
        return Load(seconds, requests, self._received)


def sign_in(context, base: str, username: str, password: str) -> None:
    """Sign ``username`` in through HTTP requests that share ``context``'s cookies (no page, no cache)."""
    form = context.request.get(f"{base}/login").text()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = context.request.post(f"{base}/login", form={"username": username, "password": password,
                                                        "csrf_token": token})
    if not answer.url.rstrip("/").endswith("/admin"):
        raise RuntimeError(f"{username} could not sign in at {base}: ended at {answer.url}")
