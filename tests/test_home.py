"""The status page: counts and whether the background worker is alive, in the user's language."""

from slrt import ops
from slrt.models.enums import Role
from tests.builders import make_referral


def test_home_shows_counts_in_indonesian(app, district, db_session, frozen):
    make_referral(district)
    page = app.test_client().get("/").get_data(as_text=True)
    assert "Back office SLRT" in page
    assert "kasus terbuka" in page and "rujukan menunggu lembaga" in page
    assert "Belum ada sinyal dari proses latar belakang" in page
    assert district.user(Role.BACK_OFFICE).full_name not in page


def test_home_in_english_and_worker_alive(app, db_session, frozen):
    ops.beat("worker")
    page = app.test_client().get("/?lang=en").get_data(as_text=True)
    assert "open cases" in page
    assert "Background worker running, last heartbeat 24-11-2026 10:00:00." in page


def test_healthz(app, db_session):
    assert app.test_client().get("/healthz").json["status"] == "ok"
