"""The send rate: slots spaced evenly, shared by every worker through a real Redis."""

from __future__ import annotations

import threading
import time

import pytest

from fakes.pipeline import RedisServer
from sms import ratelimit


def _burst(limiters, per_limiter: int, threads: int = 4) -> list[float]:
    """Acquire from several limiters in several threads at once; return when each got its slot."""
    times: list[float] = []
    lock = threading.Lock()

    def take(limiter, count):
        for _ in range(count):
            limiter.acquire()
            with lock:
                times.append(time.monotonic())

    workers = [threading.Thread(target=take, args=(limiter, per_limiter // threads))
               for limiter in limiters for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(times)


def test_a_process_limiter_spaces_its_threads():
    times = _burst([ratelimit.LocalLimiter(50)], 40)
    assert len(times) == 40
    assert times[-1] - times[0] >= 39 / 50 - 0.02  # 40 slots of 20 ms, not a burst


@pytest.mark.slow
def test_two_workers_share_one_rate_through_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        first = ratelimit.build(100, server.url)
        second = ratelimit.build(100, server.url)  # another worker process, same Redis
        assert isinstance(first, ratelimit.RedisLimiter)
        times = _burst([first, second], 80)
        assert len(times) == 160
        span = times[-1] - times[0]
        assert span >= 159 / (100 * ratelimit.HEADROOM) - 0.05  # one shared pace, not two
        busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
        assert busiest <= 100
    finally:
        server.stop()


def test_redis_unreachable_slows_to_the_process_pace_instead_of_failing():
    limiter = ratelimit.build(50, "redis://127.0.0.1:1/0")  # nothing listens there
    started = time.monotonic()
    for _ in range(5):
        limiter.acquire()
    elapsed = time.monotonic() - started
    assert 4 / (50 * ratelimit.HEADROOM) - 0.01 <= elapsed < 2  # paced, and not stuck retrying
