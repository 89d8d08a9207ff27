"""gunicorn's settings for the web app: ``gunicorn -c gunicorn.conf.py`` from the project folder.

gunicorn reads this file by itself when started in the project folder (``gunicorn app:application``
works too); ``deploy/slrt-web.service`` names it. Its own ways to override still apply, later ones
winning: this file, then ``GUNICORN_CMD_ARGS``, then the command line.

- Processes and threads: ``SLRT_WEB_WORKERS`` (else gunicorn's ``WEB_CONCURRENCY``, else 2) processes
  of ``SLRT_WEB_THREADS`` (default 4) threads each: a 2-core server's pages mostly wait on
  PostgreSQL, so 2 x 4 serves 8 requests at once with one process per core. Keep
  ``SLRT_DB_POOL_SIZE`` at least the thread count.
- The access log names the path without its query string (``%(U)s``, not ``%(r)s``) and no
  referrer: a search (``?search=...``) may carry a NIK, a name or a phone number.
- Graceful reload: ``kill -HUP <master pid>`` (``systemctl reload slrt-web``) re-reads this file
  and the code, starts new workers and lets the old ones finish their requests
  (``graceful_timeout``); nothing is preloaded in the master, so new code takes effect.
"""

import os


def _whole(name: str, default: int, *fallbacks: str) -> int:
    """The environment's whole number >= 1 under ``name`` (or the first of ``fallbacks`` set), else ``default``."""
    for var in (name, *fallbacks):
        text = os.environ.get(var, "").strip()
        if text:
            value = int(text)
            if value < 1:
                raise ValueError(f"{var} must be 1 or more, not {text!r}")
            return value
    return default


wsgi_app = "app:application"
chdir = os.path.dirname(os.path.abspath(__file__))
#: Behind the TLS proxy on the same host (deploy/nginx-slrt.conf); never exposed directly.
bind = [os.environ.get("SLRT_WEB_BIND", "127.0.0.1:8000")]

worker_class = "gthread"
workers = _whole("SLRT_WEB_WORKERS", 2, "WEB_CONCURRENCY")
threads = _whole("SLRT_WEB_THREADS", 4)

#: A request still running after this many seconds gets its worker restarted (the longest is a
#: 2,000-row set-up import or a year's report export; both take seconds).
timeout = _whole("SLRT_WEB_TIMEOUT", 120)
#: After a HUP or a stop, how long old workers may finish their requests.
graceful_timeout = 30
#: nginx keeps its upstream connections open this long between requests.
keepalive = 5
#: A worker is replaced after about this many requests, staggered: memory returns to the system.
max_requests = 2000
max_requests_jitter = 200
#: The workers' liveness files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
#: systemd's `reload` sends HUP; gunicorn's control socket would be a second, unneeded way in.
control_socket_disable = True

#: nginx on this host sets X-Forwarded-Proto; gunicorn trusts it from here only (its default).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("SLRT_WEB_LOGLEVEL", "info")
#: Client, time, method, path without query string, protocol, status, bytes, milliseconds, agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
