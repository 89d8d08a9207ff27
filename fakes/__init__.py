"""Local stand-ins for the outside world, for tests and benchmarks only: the product never imports them.

- fakes.twilio: ``FakeTwilio``, Twilio's Messages API with failure knobs and signed status callbacks.
- fakes.android: ``FakeAndroidPhone``, a phone running SMS Gateway for Android (local server, webhooks).
- fakes.server: ``FakeServer``, what both share (werkzeug's threaded server in a background thread).
- fakes.pipeline: ``Pipeline``, the real pipeline as processes (redis-server, Celery worker and beat,
  the app's webhooks over HTTP) around ``FakeTwilio``; also ``RedisServer`` and ``wait_for``.
- fakes.slow_line: ``SlowLine``, a Chromium page on the slow office line (300 ms, 50 KiB/s, CPU / 4),
  counting the requests and bytes each load sends over it; ``sign_in`` over HTTP alone.
- fakes.builders: ``make_*`` test data (a district, residents, cases, referrals), made through the
  real domain functions; the tests, the pipeline and the benchmarks share them.

Each stand-in for an outside party is named ``Fake<Party>``; the harness that runs the real
processes around them is not a fake and is named for what it runs. tests/test_fakes_apart.py checks
that no product module imports this package, and that neither it nor bench/ imports tests/.
"""
