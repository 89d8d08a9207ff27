"""gunicorn's settings for the web app: ``gunicorn -c gunicorn.conf.py`` from the project folder.

gunicorn reads this file by itself when started in the project folder (``gunicorn app:application``
works too); ``deploy/slrt-web.service`` names it. Its own ways to override still apply, later ones
winning: this file, then ``GUNICORN_CMD_ARGS``, then the command line.

- Address, processes and threads: ``SLRT_WEB_BIND``, ``SLRT_WEB_WORKERS`` (default 2) processes of
  ``SLRT_WEB_THREADS`` (default 4) threads each, declared with the other settings in slrt/config.py
  and checked the same way. A 2-core server's pages mostly wait on PostgreSQL: 2 x 4 serves 8
  requests at once with one process per core. Keep ``SLRT_DB_POOL_SIZE`` at least the thread count.
- The access log names the path without its query string (``%(U)s``, not ``%(r)s``) and no
  referrer: a search (``?search=...``) may carry a NIK, a name or a phone number.
- Graceful reload: ``kill -HUP <master pid>`` (``systemctl reload slrt-web``) re-reads this file
  and the code, starts new workers and lets the old ones finish their requests
  (``graceful_timeout``); nothing is preloaded in the master, so new code takes effect.
"""

import os
import sys

chdir = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, chdir)

from slrt.config import BY_KEY  # noqa: E402  (the project folder first: declared there, with defaults and checks)


def _setting(name: str):
    """The setting from the environment (converted and checked as the app does), else its default."""
    setting = BY_KEY[name]
    text = os.environ.get(name, "")
    return setting.convert(text) if text.strip() else setting.default


wsgi_app = "app:application"
#: Behind the TLS proxy on the same host (deploy/nginx-slrt.conf); never exposed directly.
bind = [_setting("SLRT_WEB_BIND")]

worker_class = "gthread"
workers = _setting("SLRT_WEB_WORKERS")
threads = _setting("SLRT_WEB_THREADS")

#: A request still running after this many seconds gets its worker restarted (the longest is a
#: 2,000-row set-up import or a year's report export; both take seconds).
timeout = 120
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
loglevel = "info"
#: Client, time, method, path without query string, protocol, status, bytes, milliseconds, agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
