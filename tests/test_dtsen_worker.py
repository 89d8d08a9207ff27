"""A DTSEN file uploaded on the screen is imported by a REAL Celery worker process (on the embedded
SQLite broker, as `make run` starts it) while the import's page follows it: queued, running with its
progress, then the result; the uploaded file is gone afterwards."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest

from fakes.dtsen import HEADERS, Village, people
from tests.web import Browser
from tests.worker import alive, migrate, worker_and_beat, worker_app, worker_env


@pytest.mark.slow
def test_a_real_worker_imports_an_upload_while_its_page_follows(tmp_path):
    from fakes.builders import make_district
    from slrt.extensions import db
    from slrt.models.enums import Role

    folder = tmp_path / "imports"
    env = worker_env(tmp_path, SLRT_IMPORT_DIR=str(folder))
    migrate(env)
    app = worker_app(env)
    app.config["SLRT_IMPORT_DIR"] = str(folder)
    with app.app_context():
        district = make_district()
        db.session.commit()
        username = district.user(Role.SUPERVISOR).username
        villages = [Village(code=v.code, name=v.name, district="Jepon") for v in district.villages]
        db.session.remove()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for row in people(villages, 6000, households=2000, bad_every=600):
        writer.writerow([row.get(key, "") for key in HEADERS])

    browser = Browser(app)
    browser.login(username)
    browser.get("/admin/dtsen-import/")
    page = browser.post("/admin/dtsen-import/upload", {"file": (io.BytesIO(out.getvalue().encode()), "dtsen.csv"),
                                                        "mode": "import", "as_of": time.strftime("%Y-%m-%d")},
                        content_type="multipart/form-data")
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    started = browser.post("/admin/dtsen-import/start", {"ticket": ticket})
    assert started.status_code == 302
    url = started.headers["Location"]
    queued = browser.get(url).get_data(as_text=True)
    assert 'http-equiv="refresh" content="2"' in queued and "Menunggu proses latar belakang" in queued
    assert len(list(folder.iterdir())) == 1

    seen: list[str] = []
    with worker_and_beat(tmp_path, env) as procs:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            html = browser.get(url).get_data(as_text=True)
            seen.append(html)
            if 'http-equiv="refresh"' not in html:
                break
            alive(procs, tmp_path)
            time.sleep(0.2)
    done = seen[-1]
    assert 'http-equiv="refresh"' not in done, (tmp_path / "worker.log").read_text()[-3000:]
    assert "selesai" in done and "<td>5990</td>" in done and "<td>10</td>" in done, done[done.find("<h1"):][:3000]
    assert "dtsen-refused" in done and "refused.xlsx" in done
    # while it waited and ran, the page showed the rows read so far, never going back
    read = [int(m.group(1)) for m in (re.search(r"(\d+) dari \d+ baris terbaca", html) for html in seen) if m]
    assert read and read == sorted(read) and read[-1] <= 6000
    assert list(folder.iterdir()) == []  # the upload is deleted once imported
    with app.app_context():
        db.engine.dispose()
    assert Path(tmp_path / "worker.log").exists()
