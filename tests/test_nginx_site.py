"""The nginx site of deploy/ in front of the app, as README's "TLS proxy" step installs it: https
only, the public address and secure cookies seen by the app, the webhooks through, no query
strings in the access log. nginx runs from the repository's file with only the ports, the
certificate and the log paths changed (a self-signed certificate made here)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from twilio.request_validator import RequestValidator

from fakes.pipeline import free_port
from tests.live import live_app, serving

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "https://slrt.example.go.id"
TOKEN = "nginx-test-token-0123456789"

pytestmark = [pytest.mark.slow,  # the certificate is made here: nothing to verify it against
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]


def _need(program: str) -> str:
    found = shutil.which(program) or (f"/usr/sbin/{program}" if os.path.exists(f"/usr/sbin/{program}") else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is missing: .ci/run installs it")
        pytest.skip(f"{program} is not installed (apt-get install {program})")
    return found


def _site(upstream: int, http_port: int, https_port: int, folder: Path) -> str:
    """deploy/nginx-slrt.conf with this test's ports, certificate and log."""
    site = (ROOT / "deploy" / "nginx-slrt.conf").read_text()
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = re.sub(r"listen 443 ([^;]*);", rf"listen 127.0.0.1:{https_port} \1;", site)
    site = site.replace("/etc/letsencrypt/live/slrt.example.go.id/fullchain.pem", str(folder / "cert.pem"))
    site = site.replace("/etc/letsencrypt/live/slrt.example.go.id/privkey.pem", str(folder / "key.pem"))
    return site.replace("/var/log/nginx/slrt.access.log", str(folder / "access.log"))


def _wait(port: int) -> None:
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def test_the_nginx_site_serves_the_app_over_https_as_the_public_address(tmp_path):
    nginx, openssl = _need("nginx"), _need("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=slrt.example.go.id", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    app = live_app(tmp_path, "nginx-test", SLRT_PROXY_HOPS=1, SLRT_PUBLIC_URL=PUBLIC, TWILIO_AUTH_TOKEN=TOKEN,
                   SLRT_SMS_DISPATCH=False)
    http_port, https_port = free_port(), free_port()
    with serving(app) as base:
        upstream = int(base.rsplit(":", 1)[1])
        (tmp_path / "site.conf").write_text(_site(upstream, http_port, https_port, tmp_path))
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
            f"http {{\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
            f"  fastcgi_temp_path {tmp_path}/fcgi;\n  uwsgi_temp_path {tmp_path}/uwsgi;\n"
            f"  scgi_temp_path {tmp_path}/scgi;\n  access_log off;\n"
            # a body kept in memory: nginx's workers (nobody) may not write to this test's folder
            f"  client_body_buffer_size 8m;\n  include {tmp_path}/site.conf;\n}}\n")
        conf = ["-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
        checked = subprocess.run([nginx, "-t", *conf], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        proc = subprocess.Popen([nginx, *conf, "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            _wait(https_port)
            host = {"Host": "slrt.example.go.id"}
            plain = requests.get(f"http://127.0.0.1:{http_port}/login", headers=host, allow_redirects=False,
                                 timeout=10)
            assert plain.status_code == 301 and plain.headers["Location"] == f"{PUBLIC}/login"

            page = requests.get(f"https://127.0.0.1:{https_port}/login?next=%2Fadmin%2F&nik=3316085503800007",
                                headers=host, verify=False, timeout=10)
            assert page.status_code == 200 and "Strict-Transport-Security" in page.headers
            cookie = page.headers["Set-Cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie

            form = {"From": "+6281325550177", "Body": "CEK 12345-6", "MessageSid": "SM0001"}
            signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/sms/twilio/inbound", form)
            webhook = requests.post(f"https://127.0.0.1:{https_port}/sms/twilio/inbound", data=form, verify=False,
                                    headers={**host, "X-Twilio-Signature": signature}, timeout=10)
            assert webhook.status_code == 200, webhook.text
            forged = requests.post(f"https://127.0.0.1:{https_port}/sms/twilio/inbound", data=form, verify=False,
                                   headers={**host, "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, timeout=10)
            assert forged.status_code == 403

            too_big = requests.post(f"https://127.0.0.1:{https_port}/admin/setup-import/", headers=host,
                                    data=b"x" * (4 * 1024 * 1024), verify=False, timeout=20)
            assert too_big.status_code == 413  # nginx's limit, above the app's own 2 MB cap
            # the DTSEN upload may be larger: 4 MB reach the app (which wants a signed-in form: not a 413)
            upload = requests.post(f"https://127.0.0.1:{https_port}/admin/dtsen-import/upload", headers=host,
                                   data=b"x" * (4 * 1024 * 1024), verify=False, timeout=20, allow_redirects=False)
            assert upload.status_code != 413 and upload.status_code < 500, upload.status_code
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        log = (tmp_path / "access.log").read_text()
        assert '"GET /login HTTP/' in log and "nik=" not in log and "3316085503800007" not in log
    with app.app_context():
        from slrt.extensions import db

        db.engine.dispose()
