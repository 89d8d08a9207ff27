"""Settings: every variable the README names is declared and read, malformed values are refused
by name, the README's table is the generated one, and the sign-in limits reach sign-in."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from slrt import config
from slrt.config import ConfigError
from slrt.extensions import db
from slrt.models import Staff
from slrt.pii import new_key
from tests.web import Browser

README = Path(__file__).resolve().parents[1] / "README.md"
#: Variables the README names that are not settings of the app.
NOT_SETTINGS = {"TEST_DATABASE_URL", "BENCH_DATABASE_URL", "FLASK_APP", "PYTHONPATH"}
_NAME = re.compile(r"\b[A-Z][A-Z0-9_]*\b")
_SETTING_LIKE = re.compile(r"SLRT_[A-Z0-9_]+|TWILIO_[A-Z_]+|DATABASE_URL|CELERY_BROKER_URL")
README_NAMES = sorted({name for name in _NAME.findall(README.read_text(encoding="utf-8"))
                       if _SETTING_LIKE.search(name)} - NOT_SETTINGS)
BY_ENV = {setting.env: setting for setting in config.SETTINGS if setting.env}

#: A valid value of each kind that no default has: (as the environment gives it, as load() returns it).
KIND_EXAMPLES = {
    config.HHMM: ("6:15", "06:15"),
    config.HHMM_RANGE: ("07:30-15:00", "07:30-15:00"),
    config.DATES: ("2026-12-31, 2027-01-02", "2026-12-31,2027-01-02"),
    config.TIMEZONE: ("Asia/Makassar", "Asia/Makassar"),
    config.DATABASE_URL: ("postgres://slrt@db.example/slrt", "postgresql+psycopg://slrt@db.example/slrt"),
}
#: What a value needs beside it to pass the checks across settings.
COMPANIONS = {
    "SLRT_SMS_GATEWAY": {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM_NUMBER": "+15005550006",
                         "SLRT_ANDROID_URL": "http://192.168.1.20:8080", "SLRT_ANDROID_PASSWORD": "pw"},
    "SLRT_ANDROID_URL": {"SLRT_ANDROID_PASSWORD": "pw"},
}


@pytest.fixture
def environ(monkeypatch):
    """No setting from the developer's own environment."""
    for setting in config.SETTINGS:
        if setting.env:
            monkeypatch.delenv(setting.env, raising=False)
    return monkeypatch


def _example(setting: config.Setting) -> tuple[str, object]:
    """A valid, non-default value for ``setting``: as text, and as load() returns it."""
    kind, default = setting.type, setting.default
    if kind in KIND_EXAMPLES:
        return KIND_EXAMPLES[kind]
    if kind is config.INT:
        return str(default + 1), default + 1
    if kind is config.FLOAT:
        return f" {default + 1.5} ", default + 1.5
    if kind is config.BOOL:
        return ("off", False) if default else ("on", True)
    if kind is config.STR:
        return f"example-{setting.name.lower()}", f"example-{setting.name.lower()}"
    if kind.name == "choice":
        option = next(o for o in kind.options if o != default and _fits(setting, o))
        return option, option
    raise AssertionError(f"add an example of kind {kind.name!r} to KIND_EXAMPLES")


def _fits(setting: config.Setting, value: str) -> bool:
    try:
        setting.convert(value)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("name", README_NAMES)
def test_every_variable_the_readme_names_is_declared_and_read(name, environ, tmp_path):
    if name in BY_ENV:
        setting = BY_ENV[name]
        text, expected = _example(setting)
        for companion, value in COMPANIONS.get(name, {}).items():
            environ.setenv(companion, value)
        environ.setenv(name, text)
        loaded = config.load(str(tmp_path))[setting.key]
        assert loaded == expected and loaded != setting.default
        assert type(loaded) is setting.type.type
    else:
        setting = config.BY_KEY.get(name)
        assert setting is not None, f"README.md names {name}, which slrt/config.py does not declare"
        assert setting.env is None
        environ.setenv(name, _example(setting)[0])
        assert config.load(str(tmp_path))[name] == setting.default  # documented as not read


def test_the_types_code_relies_on(environ, tmp_path):
    loaded = config.load(str(tmp_path))
    expected = {"SLRT_CODE_DIGITS": int, "SLRT_REPLY_CAP_PER_HOUR": int, "SLRT_DB_POOL_SIZE": int,
                "SLRT_LOGIN_ATTEMPTS": int, "SLRT_LOCKOUT_MINUTES": int, "SLRT_SESSION_MINUTES": int,
                "SLRT_SMS_DISPATCH": bool, "SLRT_SMS_TIMEOUT": float, "SLRT_SMS_VALIDITY_SECONDS": float,
                "SLRT_VERIFY_DAYS": float, "SLRT_RECEIPT_HOURS": float, "SLRT_SMS_RATE": float,
                "SLRT_QUIET_FROM": str, "SLRT_OFFICE_HOURS": str, "SQLALCHEMY_DATABASE_URI": str, "SECRET_KEY": str}
    assert {key: type(loaded[key]) for key in expected} == expected
    assert set(config.BY_KEY) <= set(loaded)


@pytest.mark.parametrize("setting", [s for s in config.SETTINGS if s.env and s.type is not config.STR],
                         ids=lambda s: s.env)
def test_a_malformed_value_is_refused_by_name(setting, environ, tmp_path):
    environ.setenv(setting.env, "not-a-value")
    with pytest.raises(ConfigError, match=rf"^{setting.env} must be "):
        config.load(str(tmp_path))


@pytest.mark.parametrize(("name", "text"), [
    ("SLRT_CODE_DIGITS", "13"), ("SLRT_CODE_DIGITS", "5.5"), ("SLRT_SMS_VALIDITY_SECONDS", "0"),
    ("SLRT_SMS_TIMEOUT", "-1"), ("SLRT_SMS_TIMEOUT", "inf"), ("SLRT_SMS_RATE", "-0.5"), ("SLRT_LOGIN_ATTEMPTS", "0"),
    ("SLRT_QUIET_FROM", "24:00"), ("SLRT_OFFICE_HOURS", "16:00-08:00"), ("SLRT_OFFICE_HOURS", "08:00"),
])
def test_a_value_out_of_range_is_refused_by_name(name, text, environ, tmp_path):
    environ.setenv(name, text)
    with pytest.raises(ConfigError, match=rf"^{name} must be .*, not '{re.escape(text)}'$"):
        config.load(str(tmp_path))


def test_secrets_are_not_repeated_in_the_error(environ, tmp_path):
    environ.setenv("DATABASE_URL", "postgresql://slrt:hunter2@db.example:port/slrt")
    with pytest.raises(ConfigError, match="^DATABASE_URL must be") as refused:
        config.load(str(tmp_path))
    assert "hunter2" not in str(refused.value)


def test_the_test_mapping_goes_through_the_same_conversion(environ, tmp_path):
    loaded = config.load(str(tmp_path), {"SLRT_CODE_DIGITS": "7", "SLRT_SMS_DISPATCH": "off", "SLRT_SMS_RATE": 2,
                                         "TESTING": True})
    assert (loaded["SLRT_CODE_DIGITS"], loaded["SLRT_SMS_DISPATCH"], loaded["SLRT_SMS_RATE"]) == (7, False, 2.0)
    assert loaded["TESTING"] is True  # not a setting of ours: as given
    with pytest.raises(ConfigError, match="^SLRT_REPLY_CAP_PER_HOUR must be a whole number"):
        config.load(str(tmp_path), {"SLRT_REPLY_CAP_PER_HOUR": "many"})
    environ.setenv("SLRT_CODE_DIGITS", "6")
    assert config.load(str(tmp_path), {"SLRT_CODE_DIGITS": 8})["SLRT_CODE_DIGITS"] == 8  # the mapping wins


def test_checks_across_settings_still_hold(environ, tmp_path):
    environ.setenv("SLRT_SMS_GATEWAY", "twilio")
    with pytest.raises(ConfigError, match="twilio gateway needs TWILIO_ACCOUNT_SID"):
        config.load(str(tmp_path))
    environ.setenv("SLRT_SMS_GATEWAY", "console")
    environ.setenv("SLRT_SMS_TIMEOUT", "100")
    with pytest.raises(ConfigError, match="SLRT_SMS_CLAIM_LEASE_SECONDS must be at least 4 x SLRT_SMS_TIMEOUT"):
        config.load(str(tmp_path))


def test_the_readme_table_is_the_generated_one():
    readme = README.read_text(encoding="utf-8")
    assert readme.count(config.README_BEGIN) == 1 and readme.count(config.README_END) == 1
    assert config.with_readme_table(readme) == readme, \
        "README.md's settings table is stale: run `.venv/bin/python -m slrt.config README.md`"
    block = readme.split(config.README_BEGIN)[1].split(config.README_END)[0]
    for setting in config.SETTINGS:
        assert f"`{setting.env or setting.key}`" in block


def test_the_environment_template_is_the_generated_one():
    committed = (README.parent / config.ENV_TEMPLATE).read_text(encoding="utf-8")
    assert committed == config.env_template(), \
        f"{config.ENV_TEMPLATE} is stale: run `.venv/bin/python -m slrt.config README.md`"
    for setting in config.SETTINGS:
        if setting.env:
            assert re.search(rf"^#?{setting.env}=", committed, re.MULTILINE), setting.env


def test_the_environment_template_reads_as_the_production_settings(environ, tmp_path):
    """Its uncommented lines, given real secrets, load; the commented ones are the defaults."""
    lines = (README.parent / config.ENV_TEMPLATE).read_text(encoding="utf-8").splitlines()
    for line in lines:
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            environ.setenv(name, value or {"SLRT_SECRET_KEY": "s" * 64, "SLRT_PII_KEY": new_key()}[name])
    loaded = config.load(str(tmp_path))
    assert loaded["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert loaded["CELERY_BROKER_URL"].startswith("redis://") and loaded["SLRT_PROXY_HOPS"] == 1
    assert not list(tmp_path.iterdir()), "a production server keeps no secret in the instance folder"
    for line in lines:
        if line.startswith("#") and "=" in line and re.fullmatch(r"#[A-Z][A-Z0-9_]*=.*", line):
            name, _, value = line[1:].partition("=")
            setting = BY_ENV[name]
            if value:
                assert setting.convert(value) == setting.default, name


def _make_app(tmp_path, url=None):
    from app import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{tmp_path / 'slrt.sqlite'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        "SECRET_KEY": "settings-test", "SLRT_PII_KEY": new_key(), "SLRT_ANDROID_SIGNING_KEY": "settings-test",
        "SLRT_PASSWORD_HASH": "plaintext", "SLRT_SMS_DISPATCH": False,
    })


def _with_staff(app):
    from fakes.builders import make_district

    with app.app_context():
        upgrade()
        make_district()
        db.session.commit()


def _staff(app, username):
    with app.app_context():
        return db.session.scalar(select(Staff).where(Staff.username == username))


def test_sign_in_limits_and_idle_time_come_from_the_environment(environ, tmp_path, frozen):
    environ.setenv("SLRT_LOGIN_ATTEMPTS", "2")
    environ.setenv("SLRT_LOCKOUT_MINUTES", "3")
    environ.setenv("SLRT_SESSION_MINUTES", "10")
    app = _make_app(tmp_path)
    _with_staff(app)
    browser = Browser(app)
    wrong = {"username": "sek.back_office", "password": "salah-sekali-1"}
    browser.post("/login", wrong)
    assert _staff(app, "sek.back_office").locked_until is None
    browser.post("/login", wrong)
    assert _staff(app, "sek.back_office").locked_until is not None  # the second failure, not the fifth
    frozen.shift(timedelta(minutes=2))
    page = browser.post("/login", {"username": "sek.back_office", "password": "rahasia-demo-1"})
    assert "Terlalu banyak percobaan masuk yang gagal" in page.get_data(as_text=True)
    frozen.shift(timedelta(minutes=2))  # a 3-minute lock, not 15
    assert browser.login("sek.back_office").status_code == 302
    frozen.shift(timedelta(minutes=9))
    assert browser.get("/admin/").status_code == 200
    frozen.shift(timedelta(minutes=11))  # 10 idle minutes, not 30
    response = browser.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_works_in_one_process(url, environ, tmp_path, frozen):
    app = _make_app(tmp_path, url)
    assert "pool_size" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    _with_staff(app)  # migrated and filled through one connection ...
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Staff)) > 0
    browser = Browser(app)  # ... that requests share too
    assert browser.login("sek.back_office").status_code == 302
    assert browser.get("/admin/").status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_the_phone_signing_key_is_kept_only_when_a_phone_is_configured(environ, tmp_path):
    """Tests and phone-less deployments leave no key behind (tests once wrote one into the repository)."""
    plain = config.load(str(tmp_path / "plain"), {"SECRET_KEY": "k", "SLRT_PII_KEY": new_key(),
                                                   "SQLALCHEMY_DATABASE_URI": "sqlite://",
                                                   "CELERY_BROKER_URL": "memory://"})
    assert plain["SLRT_ANDROID_SIGNING_KEY"] == "" and not (tmp_path / "plain").exists()
    environ.setenv("SLRT_ANDROID_URL", "http://192.168.1.20:8080")
    environ.setenv("SLRT_ANDROID_PASSWORD", "sandi")
    first = config.load(str(tmp_path / "phone"))["SLRT_ANDROID_SIGNING_KEY"]
    assert len(first) == 48 and (tmp_path / "phone" / "android-signing.key").read_text().strip() == first
    assert config.load(str(tmp_path / "phone"))["SLRT_ANDROID_SIGNING_KEY"] == first  # kept across restarts
