"""The send rate: at most R messages per second, for the whole cluster or one process.

A district buys a throughput from its provider (and carriers filter bursts), so workers
space their sends. Each send reserves the next free slot (one every 1/R seconds) and
sleeps until it: a generic cell rate algorithm with no burst. With a Redis broker the
slot counter lives in Redis (one Lua call, Redis's clock) and every worker on every host
shares it; otherwise each worker process keeps its own.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

#: KEYS[1]: the next free slot (microseconds, Redis clock). ARGV[1]: slot width in microseconds.
#: Returns how long the caller waits for its slot. The key expires once the line is empty.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local width = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], string.format('%d', slot + width), 'PX', math.floor((slot + width - now) / 1000) + 1000)
return slot - now
"""


#: Woken this late after its slot, a sender takes a new slot (up to this many times).
_LATE, _LATE_RETRIES = 0.02, 3


class Unlimited:
    """No limit: send as fast as the provider takes them."""

    rate = 0.0

    def acquire(self) -> float:
        return 0.0


class LocalLimiter:
    """One process's limiter, shared by its threads."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._width = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for the next slot; return the seconds waited."""
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self._width
        wait = slot - now
        if wait > 0:
            time.sleep(wait)
        return wait


class RedisLimiter:
    """The cluster's limiter: every worker reserves its slots from one Redis key."""

    def __init__(self, client, rate: float, key: str = "slrt:sms:next-slot") -> None:
        self.rate = rate
        self._width_us = max(int(1_000_000 / rate), 1)
        self._key = key
        self._reserve = client.register_script(_RESERVE)
        self._fallback = LocalLimiter(rate)
        self._warned_at = -1e9

    def acquire(self) -> float:
        """Wait for the next cluster-wide slot; with Redis unreachable, keep this process's pace.

        A thread that wakes well after its slot (its process was stalled) takes a fresh slot
        rather than firing late together with the slots after it: a stall must not turn
        into a burst at the provider. Returns the seconds waited in all.
        """
        waited = 0.0
        for _ in range(_LATE_RETRIES):
            try:
                wait = int(self._reserve(keys=[self._key], args=[self._width_us])) / 1_000_000
            except Exception as exc:  # noqa: BLE001  (redis down: slower, never faster, never stuck)
                if time.monotonic() - self._warned_at > 60:  # once a minute, not once per SMS
                    self._warned_at = time.monotonic()
                    log.warning("rate limiter: redis unreachable, limiting this process only (%s)",
                                type(exc).__name__)
                return waited + self._fallback.acquire()
            due = time.monotonic() + wait
            if wait > 0:
                time.sleep(wait)
            waited += wait
            if time.monotonic() - due <= max(2 * self._width_us / 1_000_000, _LATE):
                break
        return waited


#: Workers pace at this share of the purchased rate: scheduling and network jitter between
#: a slot and the provider's clock would otherwise push some provider-side second above R.
HEADROOM = 0.97


def build(rate: float, broker_url: str, key: str = "slrt:sms:next-slot"):
    """The limiter for these settings: none, Redis-shared when the broker is Redis, else local."""
    if not rate:
        return Unlimited()
    rate *= HEADROOM
    if broker_url.startswith(("redis://", "rediss://")):
        # No retries inside redis-py: an unreachable Redis falls back to the local pace at once.
        client = redis.Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=1,
                                      retry=Retry(NoBackoff(), 0))
        return RedisLimiter(client, rate, key=key)
    return LocalLimiter(rate)
