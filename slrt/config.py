"""Settings: defaults in code, then environment variables, then the test mapping."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the app refuses to start."""


#: Every setting the app reads, with its embedded default. ``None`` means
#: "derived from the instance folder at start-up" (see :func:`load`).
DEFAULTS: dict[str, object] = {
    "SECRET_KEY": None,
    "SQLALCHEMY_DATABASE_URI": None,
    "CELERY_BROKER_URL": None,
    "SLRT_PII_KEY": None,
    "SLRT_TIMEZONE": "Asia/Jakarta",
    "SLRT_DEFAULT_LOCALE": "id",
    "SLRT_SMS_GATEWAY": "console",
    "SLRT_SMS_SENDER_NAME": "SLRT",
    #: Extra non-working days (collective leave decreed late, local holidays):
    #: comma-separated ISO dates added to the national calendar.
    "SLRT_EXTRA_HOLIDAYS": "",
    #: Digits in a freshly drawn ticket/referral code before its check digit.
    "SLRT_CODE_DIGITS": 5,
    "SLRT_PUBLIC_URL": "http://127.0.0.1:5000",
    #: The number residents text or call back; empty = the nearest unit's phone.
    "SLRT_REPLY_NUMBER": "",
    #: Residents get no SMS between these local times (the message waits for the morning).
    "SLRT_QUIET_FROM": "20:00",
    "SLRT_QUIET_TO": "07:00",
    #: Agencies get SMS on working days in these local hours.
    "SLRT_OFFICE_HOURS": "08:00-16:00",
    #: Queue the send task right after the commit that wrote a message (off in most tests).
    "SLRT_SMS_DISPATCH": True,
    #: Seconds between outbox sweeps (beat): re-queues what was never picked up or is due a retry.
    "SLRT_SWEEP_SECONDS": 30,
    #: Seconds between worker heartbeats (beat -> worker -> database).
    "SLRT_HEARTBEAT_SECONDS": 30,
    #: Twilio (SLRT_SMS_GATEWAY=twilio): credentials and a sender number or Messaging Service.
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_FROM_NUMBER": "",
    "TWILIO_MESSAGING_SERVICE_SID": "",
    #: Another address for Twilio's API (a local Twilio-speaking server in tests and benchmarks).
    "SLRT_TWILIO_API_BASE": "",
    #: SMS Gateway for Android (local-server mode): the phone's API, e.g. http://192.168.1.20:8080.
    #: Set, it is a gateway of its own (SLRT_SMS_GATEWAY=android) or a second one beside the first.
    "SLRT_ANDROID_URL": "",
    #: Messages an hour the Android phone sends (its SIM and the phone's own limits).
    "SLRT_ANDROID_RATE_PER_HOUR": 100,
    #: Sending policy: which gateway carries which kind of message (resident, agency, staff,
    #: digest, reply), e.g. "digest=android,reply=android"; the rest go by SLRT_SMS_GATEWAY.
    "SLRT_SMS_ROUTES": "",
    "SLRT_ANDROID_LOGIN": "",
    "SLRT_ANDROID_PASSWORD": "",
    #: The key the app signs its webhooks with; None = kept in the instance folder (android-signing.key).
    "SLRT_ANDROID_SIGNING_KEY": None,
    #: Seconds a gateway call may take before it is abandoned (and looked up before a resend).
    "SLRT_SMS_TIMEOUT": 10.0,
    #: Seconds a message may wait in the provider's queue before it expires undelivered.
    "SLRT_SMS_VALIDITY_SECONDS": 14400,
    #: Messages per second for the whole cluster (shared through Redis when the broker is
    #: Redis, per worker process otherwise); 0 = as fast as the provider takes them.
    "SLRT_SMS_RATE": 0.0,
    #: Seconds a worker holds a claimed message; a claim older than this is presumed lost
    #: with its worker and the message goes back to pending (then looked up before a resend).
    "SLRT_SMS_CLAIM_LEASE_SECONDS": 300.0,
    #: First retry delay after a transient failure; doubles per attempt (capped at one hour).
    "SLRT_SMS_RETRY_BASE_SECONDS": 30.0,
    #: Days after which message bodies are erased (the metadata stays for reports).
    "SLRT_SMS_RETENTION_DAYS": 30,
    #: Days a resident has to answer "sudah Anda terima?" before the referral shows as unverified.
    "SLRT_VERIFY_DAYS": 7,
    #: Replies to SMS commands one phone may get per hour (two auto-responders cannot loop).
    "SLRT_REPLY_CAP_PER_HOUR": 6,
    #: Hours to wait for a delivery receipt before the facilitator is asked to call or visit.
    "SLRT_RECEIPT_HOURS": 24.0,
    #: Database connections each process keeps open (a worker with N threads wants N or more).
    "SLRT_DB_POOL_SIZE": 10,
    #: Password hashing (Flask-Security); tests lower the cost, production keeps argon2.
    "SLRT_PASSWORD_HASH": "argon2",
    #: Failed sign-ins before an account locks, and for how long.
    "SLRT_LOGIN_ATTEMPTS": 5,
    "SLRT_LOCKOUT_MINUTES": 15,
    #: Minutes of inactivity after which a staff session ends.
    "SLRT_SESSION_MINUTES": 30,
}

#: Environment variable -> setting. Production sets these; nothing else is read.
ENVIRONMENT = {
    "SECRET_KEY": "SLRT_SECRET_KEY",
    "SQLALCHEMY_DATABASE_URI": "DATABASE_URL",
    "CELERY_BROKER_URL": "CELERY_BROKER_URL",
    "SLRT_PII_KEY": "SLRT_PII_KEY",
    "SLRT_TIMEZONE": "SLRT_TIMEZONE",
    "SLRT_DEFAULT_LOCALE": "SLRT_DEFAULT_LOCALE",
    "SLRT_SMS_GATEWAY": "SLRT_SMS_GATEWAY",
    "SLRT_SMS_SENDER_NAME": "SLRT_SMS_SENDER_NAME",
    "SLRT_EXTRA_HOLIDAYS": "SLRT_EXTRA_HOLIDAYS",
    "SLRT_CODE_DIGITS": "SLRT_CODE_DIGITS",
    "SLRT_PUBLIC_URL": "SLRT_PUBLIC_URL",
    "SLRT_HEARTBEAT_SECONDS": "SLRT_HEARTBEAT_SECONDS",
    "SLRT_REPLY_NUMBER": "SLRT_REPLY_NUMBER",
    "SLRT_QUIET_FROM": "SLRT_QUIET_FROM",
    "SLRT_QUIET_TO": "SLRT_QUIET_TO",
    "SLRT_OFFICE_HOURS": "SLRT_OFFICE_HOURS",
    "SLRT_SWEEP_SECONDS": "SLRT_SWEEP_SECONDS",
    "TWILIO_ACCOUNT_SID": "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN": "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER": "TWILIO_FROM_NUMBER",
    "TWILIO_MESSAGING_SERVICE_SID": "TWILIO_MESSAGING_SERVICE_SID",
    "SLRT_TWILIO_API_BASE": "SLRT_TWILIO_API_BASE",
    "SLRT_ANDROID_URL": "SLRT_ANDROID_URL",
    "SLRT_ANDROID_RATE_PER_HOUR": "SLRT_ANDROID_RATE_PER_HOUR",
    "SLRT_SMS_ROUTES": "SLRT_SMS_ROUTES",
    "SLRT_ANDROID_LOGIN": "SLRT_ANDROID_LOGIN",
    "SLRT_ANDROID_PASSWORD": "SLRT_ANDROID_PASSWORD",
    "SLRT_ANDROID_SIGNING_KEY": "SLRT_ANDROID_SIGNING_KEY",
    "SLRT_SMS_TIMEOUT": "SLRT_SMS_TIMEOUT",
    "SLRT_SMS_VALIDITY_SECONDS": "SLRT_SMS_VALIDITY_SECONDS",
    "SLRT_SMS_RATE": "SLRT_SMS_RATE",
    "SLRT_DB_POOL_SIZE": "SLRT_DB_POOL_SIZE",
    "SLRT_SMS_CLAIM_LEASE_SECONDS": "SLRT_SMS_CLAIM_LEASE_SECONDS",
    "SLRT_SMS_RETRY_BASE_SECONDS": "SLRT_SMS_RETRY_BASE_SECONDS",
    "SLRT_SMS_RETENTION_DAYS": "SLRT_SMS_RETENTION_DAYS",
    "SLRT_RECEIPT_HOURS": "SLRT_RECEIPT_HOURS",
    "SLRT_REPLY_CAP_PER_HOUR": "SLRT_REPLY_CAP_PER_HOUR",
    "SLRT_VERIFY_DAYS": "SLRT_VERIFY_DAYS",
}


def load(instance_path: str, test_config: dict | None = None) -> dict[str, object]:
    """Return the validated settings for an app whose instance folder is ``instance_path``."""
    settings = dict(DEFAULTS)
    for key, var in ENVIRONMENT.items():
        if os.environ.get(var):
            settings[key] = os.environ[var]
    if test_config:
        settings.update(test_config)

    instance = Path(instance_path)
    if settings["SQLALCHEMY_DATABASE_URI"] is None:
        instance.mkdir(parents=True, exist_ok=True)
        settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'slrt.sqlite'}"
    settings["SQLALCHEMY_DATABASE_URI"] = _normalize_db_url(str(settings["SQLALCHEMY_DATABASE_URI"]))
    if settings["CELERY_BROKER_URL"] is None:
        instance.mkdir(parents=True, exist_ok=True)
        settings["CELERY_BROKER_URL"] = f"sqla+sqlite:///{instance / 'celery-broker.sqlite'}"
    if settings["SECRET_KEY"] is None:
        settings["SECRET_KEY"] = _instance_secret(instance / "secret.key", os.urandom(32).hex())
    if settings["SLRT_PII_KEY"] is None:
        from slrt.pii import new_key

        settings["SLRT_PII_KEY"] = _instance_secret(instance / "pii.key", new_key())
    if settings["SLRT_ANDROID_SIGNING_KEY"] is None:
        settings["SLRT_ANDROID_SIGNING_KEY"] = _instance_secret(instance / "android-signing.key", os.urandom(24).hex())

    try:
        settings["SLRT_CODE_DIGITS"] = int(settings["SLRT_CODE_DIGITS"])
    except (TypeError, ValueError) as exc:
        raise ConfigError("SLRT_CODE_DIGITS must be a whole number") from exc
    for key in ("SLRT_ANDROID_RATE_PER_HOUR", "SLRT_VERIFY_DAYS",
                "SLRT_HEARTBEAT_SECONDS", "SLRT_SWEEP_SECONDS", "SLRT_SMS_TIMEOUT", "SLRT_SMS_RATE",
                "SLRT_RECEIPT_HOURS", "SLRT_SMS_VALIDITY_SECONDS", "SLRT_SMS_RETENTION_DAYS",
                "SLRT_SMS_CLAIM_LEASE_SECONDS", "SLRT_SMS_RETRY_BASE_SECONDS"):
        try:
            settings[key] = float(settings[key])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key} must be a number") from exc
    for key in ("SLRT_QUIET_FROM", "SLRT_QUIET_TO"):
        if not _is_hhmm(str(settings[key])):
            raise ConfigError(f"{key} must look like 20:00")
    if not all(_is_hhmm(part) for part in str(settings["SLRT_OFFICE_HOURS"]).split("-")) or \
            str(settings["SLRT_OFFICE_HOURS"]).count("-") != 1:
        raise ConfigError("SLRT_OFFICE_HOURS must look like 08:00-16:00")
    if settings["SLRT_SMS_GATEWAY"] not in ("console", "twilio", "android"):
        raise ConfigError("SLRT_SMS_GATEWAY must be 'console', 'twilio' or 'android'")
    if settings["SLRT_SMS_GATEWAY"] == "android" and not settings["SLRT_ANDROID_URL"]:
        raise ConfigError("the android gateway needs SLRT_ANDROID_URL (the phone's local server)")
    if settings["SLRT_ANDROID_URL"] and not settings["SLRT_ANDROID_PASSWORD"]:
        raise ConfigError("SLRT_ANDROID_URL needs SLRT_ANDROID_PASSWORD (and usually SLRT_ANDROID_LOGIN)")
    if settings["SLRT_SMS_GATEWAY"] == "twilio":
        if not (settings["TWILIO_ACCOUNT_SID"] and settings["TWILIO_AUTH_TOKEN"]):
            raise ConfigError("the twilio gateway needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if bool(settings["TWILIO_FROM_NUMBER"]) == bool(settings["TWILIO_MESSAGING_SERVICE_SID"]):
            raise ConfigError("set one of TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    if not 1 <= settings["SLRT_SMS_VALIDITY_SECONDS"] <= 36000:
        raise ConfigError("SLRT_SMS_VALIDITY_SECONDS must be between 1 and 36000")
    if settings["SLRT_SMS_CLAIM_LEASE_SECONDS"] < 4 * settings["SLRT_SMS_TIMEOUT"]:
        # A claim is renewed after half its lease; the rest must cover a lookup and a send.
        raise ConfigError("SLRT_SMS_CLAIM_LEASE_SECONDS must be at least 4 x SLRT_SMS_TIMEOUT")
    if settings["SLRT_SMS_TIMEOUT"] <= 0 or settings["SLRT_SMS_RATE"] < 0:
        raise ConfigError("SLRT_SMS_TIMEOUT must be positive and SLRT_SMS_RATE not negative")
    if not 4 <= settings["SLRT_CODE_DIGITS"] <= 12:
        raise ConfigError("SLRT_CODE_DIGITS must be between 4 and 12")
    try:
        ZoneInfo(str(settings["SLRT_TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown SLRT_TIMEZONE {settings['SLRT_TIMEZONE']!r}") from exc
    if settings["SLRT_DEFAULT_LOCALE"] not in ("id", "en"):
        raise ConfigError("SLRT_DEFAULT_LOCALE must be 'id' or 'en'")
    try:
        settings["SLRT_REPLY_CAP_PER_HOUR"] = int(settings["SLRT_REPLY_CAP_PER_HOUR"])
    except (TypeError, ValueError) as exc:
        raise ConfigError("SLRT_REPLY_CAP_PER_HOUR must be a whole number") from exc
    try:
        pool_size = int(settings["SLRT_DB_POOL_SIZE"])
    except (TypeError, ValueError) as exc:
        raise ConfigError("SLRT_DB_POOL_SIZE must be a whole number") from exc
    settings["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "pool_size": pool_size, "max_overflow": 20}
    settings["BABEL_DEFAULT_LOCALE"] = settings["SLRT_DEFAULT_LOCALE"]
    settings["BABEL_DEFAULT_TIMEZONE"] = settings["SLRT_TIMEZONE"]
    return settings


def _is_hhmm(text: str) -> bool:
    parts = text.strip().split(":")
    return len(parts) == 2 and all(p.isdigit() for p in parts) and int(parts[0]) < 24 and int(parts[1]) < 60


def _normalize_db_url(url: str) -> str:
    """Accept the ``postgres://`` and ``postgresql://`` forms hosts hand out; use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret(path: Path, fresh: str) -> str:
    """Read a secret kept in the instance folder, creating it (mode 600) on first run."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(fresh + "\n")
    try:
        # link() fails if another process won the race; then its secret is the one.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
