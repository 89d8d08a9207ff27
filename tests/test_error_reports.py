"""Error reports (SENTRY_DSN): an unhandled error reaches the tracker, scrubbed of personal data.

The app runs in its own process (Sentry's client is one per process), reporting to a local
server that takes Sentry's envelopes.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import brotli
import pytest
from pytest_httpserver import HTTPServer

from slrt.pii import new_key

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
from app import create_app
import sentry_sdk
app = create_app()

@app.get("/_boom")
def boom():
    raise ValueError("no household for NIK 3316085503800007, phone 081325550177")

with app.app_context():
    answer = app.test_client().get("/_boom?name=Sumarni&nik=3316085503800007")
print(answer.status_code)
sentry_sdk.flush(5)
"""


def _body(request) -> bytes:
    data = request.get_data()
    encoding = request.headers.get("Content-Encoding", "")
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "br":
        return brotli.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    return data


@pytest.fixture
def tracker():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/api/1/envelope/").respond_with_data("{}")
    server.start()
    yield server
    server.clear()
    server.stop()


def test_an_unhandled_error_is_reported_without_nik_phone_or_query(tracker, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLRT_", "DATABASE_URL", "SENTRY_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite'}", SLRT_SECRET_KEY="x", SLRT_PII_KEY=new_key(),
               SENTRY_DSN=f"http://publickey@127.0.0.1:{tracker.port}/1", SLRT_ENVIRONMENT="test")
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip().endswith("500"), done.stderr[-2000:]
    envelopes = [_body(request).decode() for request, _response in tracker.log]
    events = [json.loads(line) for envelope in envelopes for line in envelope.splitlines()[1:]
              if line.startswith("{") and '"exception"' in line]
    assert events, envelopes
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "ValueError" and event["environment"] == "test"
    reported = json.dumps(events)
    assert "[NIK]" in reported
    for secret in ("3316085503800007", "81325550177", "Sumarni"):
        assert secret not in reported
