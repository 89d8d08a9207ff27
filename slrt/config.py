"""Settings: defaults in code, then environment variables, then the test mapping.

Each setting is declared once, in :data:`SETTINGS`: its key in ``app.config``, the
environment variable it is read from, its kind (how the text becomes a value, and what it
must look like), its default and one line of meaning. Loading, conversion, validation and
the README's settings table and deploy/slrt.env.example (``python -m slrt.config README.md``) all
come from that tuple.

An in-memory SQLite database (``sqlite://``) is accepted for tests and one-process
experiments: its one connection is shared (StaticPool, no pool size). It lives and dies
with the process, so migrate it in that process; ``flask db upgrade`` or a Celery worker,
being other processes, would each see an empty database of their own.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from slrt.pii import new_key


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the app refuses to start."""


@dataclass(frozen=True)
class Kind:
    """How a setting's text (or a test's value) becomes its value, and what it must look like."""

    name: str
    #: The Python type of the value in ``app.config``.
    type: type
    #: Text or value -> value; raises ValueError or TypeError when it does not fit.
    parse: Callable[[Any], Any]
    #: Completes "<VARIABLE> must be ..." in the error message.
    looks_like: str
    #: The values a choice allows (empty for other kinds).
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A bound on a converted value, e.g. "from 4 to 12"."""

    test: Callable[[Any], bool]
    text: str


@dataclass(frozen=True)
class Setting:
    """One setting: its config key, kind, default, meaning, and the variable it is read from."""

    key: str
    type: Kind
    #: The embedded default; None = derived from the instance folder at start-up (see :func:`load`).
    default: Any
    #: One line for the README's "meaning" column (Markdown, no ``|``).
    help: str
    #: The environment variable; "" = the same as ``key``; None = never read from the environment
    #: (tests and benchmarks pass it to ``create_app``).
    env: str | None = ""
    #: How the README shows the default when it is not a plain value (derived, or "the unit's phone").
    shown: str = ""
    rule: Rule | None = None
    #: Never echoed in an error message.
    secret: bool = False
    #: What a production server sets (deploy/slrt.env.example writes it uncommented, for the operator
    #: to fill in or check); None = the default will do, so the template shows it commented out.
    production: str | None = None

    def __post_init__(self) -> None:
        if self.env == "":
            object.__setattr__(self, "env", self.key)

    @property
    def name(self) -> str:
        """What an operator sets: the environment variable, else the config key."""
        return self.env or self.key

    def convert(self, value: Any) -> Any:
        """Return ``value`` (text from the environment, or a test's value) as this setting's type."""
        try:
            converted = self.type.parse(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(self._must(value)) from exc
        if self.rule is not None and not self.rule.test(converted):
            raise ConfigError(self._must(value))
        return converted

    def _must(self, value: Any) -> str:
        bound = f" {self.rule.text}" if self.rule else ""
        got = "" if self.secret else f", not {value!r}"
        return f"{self.name} must be {self.type.looks_like}{bound}{got}"


# ---- kinds ---------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"text expected, got {type(value).__name__}")
    return value


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"a number expected, got {type(value).__name__}")
    if kind is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(value)
            return int(value)
        return int(value.strip() if isinstance(value, str) else value)
    number = float(value.strip() if isinstance(value, str) else value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = _text(value).strip().lower()
    if word not in _TRUE + _FALSE:
        raise ValueError(value)
    return word in _TRUE


_HHMM = re.compile(r"(\d{1,2}):(\d{2})", re.ASCII)


def _hhmm(value: Any) -> str:
    match = _HHMM.fullmatch(_text(value).strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(value)
    return f"{int(match[1]):02d}:{match[2]}"


def _hhmm_range(value: Any) -> str:
    parts = _text(value).split("-")
    if len(parts) != 2:
        raise ValueError(value)
    start, end = (_hhmm(part) for part in parts)
    if start >= end:
        raise ValueError(value)
    return f"{start}-{end}"


def _dates(value: Any) -> str:
    return ",".join(date.fromisoformat(item.strip()).isoformat() for item in _text(value).split(",") if item.strip())


def _timezone(value: Any) -> str:
    try:
        ZoneInfo(_text(value).strip())
    except ZoneInfoNotFoundError as exc:
        raise ValueError(value) from exc
    return value.strip()


def _database_url(value: Any) -> str:
    url = _normalize_db_url(_text(value).strip())
    try:
        make_url(url)
    except ArgumentError as exc:
        raise ValueError("unreadable database URL") from exc
    return url


def choice(*options: str) -> Kind:
    """A kind whose value is one of ``options``."""

    def parse(value: Any) -> str:
        if _text(value).strip() not in options:
            raise ValueError(value)
        return value.strip()

    words = [f"'{option}'" for option in options]
    return Kind("choice", str, parse, " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words),
                options)


STR = Kind("str", str, _text, "text")
INT = Kind("int", int, lambda value: _number(value, int), "a whole number")
FLOAT = Kind("float", float, lambda value: _number(value, float), "a number")
BOOL = Kind("bool", bool, _bool, "on or off (1/0, true/false, yes/no, on/off)")
HHMM = Kind("hh:mm", str, _hhmm, "a local time like 20:00")
HHMM_RANGE = Kind("hh:mm-hh:mm", str, _hhmm_range, "two local times like 08:00-16:00, the first earlier")
DATES = Kind("dates", str, _dates, "ISO dates separated by commas, like 2026-12-31,2027-01-02")
TIMEZONE = Kind("timezone", str, _timezone, "a time zone name like Asia/Jakarta")
DATABASE_URL = Kind("database URL", str, _database_url, "a database URL like postgresql://user@host/db")


def between(low: float, high: float) -> Rule:
    """A bound from ``low`` to ``high``, both allowed."""
    return Rule(lambda value: low <= value <= high, f"from {low} to {high}")


POSITIVE = Rule(lambda value: value > 0, "more than 0")
NOT_NEGATIVE = Rule(lambda value: value >= 0, "0 or more")
AT_LEAST_ONE = Rule(lambda value: value >= 1, "1 or more")


# ---- the settings --------------------------------------------------------------------------------

#: Every setting the app reads, in the order of the README's table.
SETTINGS: tuple[Setting, ...] = (
    Setting("SQLALCHEMY_DATABASE_URI", DATABASE_URL, None,
            "`postgresql://user@host/db` in production; `sqlite://` (in memory) only for one-process experiments: "
            "migrate it in that process, as `flask db upgrade` or a worker would see another, empty database",
            env="DATABASE_URL", shown="SQLite in `instance/slrt.sqlite`", secret=True,
            production="postgresql://slrt@localhost/slrt"),
    Setting("CELERY_BROKER_URL", STR, None, "`redis://...` or `amqp://...` in production",
            shown="`sqla+sqlite:///instance/celery-broker.sqlite`", secret=True,
            production="redis://localhost:6379/0"),
    Setting("SECRET_KEY", STR, None,
            "Flask session key (`python3 -c \"import secrets; print(secrets.token_hex(32))\"`)",
            env="SLRT_SECRET_KEY", shown="random, kept in `instance/secret.key`", secret=True, production=""),
    Setting("SLRT_PII_KEY", STR, None,
            "master key for NIK/KK encryption and lookup hashes "
            "(`python -c \"from slrt.pii import new_key; print(new_key())\"`); "
            "**back it up**: without it stored NIKs cannot be read",
            shown="random, kept in `instance/pii.key`", secret=True, production=""),
    Setting("SLRT_TIMEZONE", TIMEZONE, "Asia/Jakarta", "local time for due dates and quiet hours"),
    Setting("SLRT_DEFAULT_LOCALE", choice("id", "en"), "id",
            "language of the screens until a user picks one (`?lang=en`): `id` or `en`"),
    Setting("SLRT_SMS_SENDER_NAME", STR, "SLRT", "how SMS sign (\"SLRT Blora\")"),
    Setting("SLRT_REPLY_NUMBER", STR, "",
            "number residents text or call back, named in their SMS (`Info: ...`); unset: the phone of the case's "
            "unit (or the nearest unit above it), else the secretariat's. With neither, `flask slrt check` fails "
            "naming this setting, a worker logs it at start, and replies that must name a number are not sent",
            shown="the unit's phone"),
    Setting("SLRT_EXTRA_HOLIDAYS", DATES, "",
            "extra non-working days (collective leave decreed late, local holidays), `2026-12-31,2027-01-02`"),
    Setting("SLRT_CODE_DIGITS", INT, 5, "digits of a new ticket/referral code before its check digit",
            rule=between(4, 12)),
    Setting("SLRT_HEARTBEAT_SECONDS", FLOAT, 30.0,
            "how often each worker records its heartbeat (under its node name) and beat its tick",
            rule=POSITIVE),
    Setting("SLRT_READY_HEARTBEAT_SECONDS", FLOAT, 120.0,
            "`/readyz` and `flask slrt check` report a worker or beat down when its last heartbeat is older "
            "(at least 2 × `SLRT_HEARTBEAT_SECONDS`); a worker stopped on purpose removes its own", rule=POSITIVE),
    Setting("SLRT_READY_BACKLOG", INT, 1000,
            "`/readyz` fails when more outbound SMS than this wait to be sent (pending or being sent)",
            rule=AT_LEAST_ONE),
    Setting("SLRT_READY_OUTBOX_MINUTES", FLOAT, 30.0,
            "`/readyz` fails when an SMS whose sending time has come (quiet hours and retry times respected) "
            "has waited longer than this", rule=POSITIVE),
    Setting("SLRT_SESSION_MINUTES", INT, 30, "idle minutes before a staff session ends", rule=AT_LEAST_ONE),
    Setting("SLRT_LOGIN_ATTEMPTS", INT, 5, "failed sign-ins in a row before an account locks", rule=AT_LEAST_ONE),
    Setting("SLRT_LOCKOUT_MINUTES", INT, 15, "how long a locked account (or client address) stays locked",
            rule=AT_LEAST_ONE),
    Setting("SLRT_LOGIN_ADDRESS_ATTEMPTS", INT, 10,
            "failed sign-ins from one client address, whatever the accounts, before that address is refused "
            "for `SLRT_LOCKOUT_MINUTES`", rule=AT_LEAST_ONE),
    Setting("SLRT_PROXY_HOPS", INT, 0,
            "reverse proxies in front of the app (the TLS proxy: 1) whose `X-Forwarded-For`, `-Proto` and "
            "`-Host` give the client address that sign-in locks count and the public https address that links "
            "and webhook signatures use; 0 when browsers connect directly (forwarded headers are then ignored)",
            rule=NOT_NEGATIVE, production="1"),
    Setting("SLRT_METRICS_TOKEN", STR, "",
            "bearer token Prometheus sends to read `/metrics` (requests, outbox, sending, runs); empty: no "
            "`/metrics` at all", secret=True),
    Setting("SENTRY_DSN", STR, "",
            "report unhandled errors of the web app, workers and beat to Sentry (or a compatible server such as "
            "GlitchTip); reports carry no form, cookie or user, and NIKs and phone numbers are masked",
            secret=True),
    Setting("SLRT_ENVIRONMENT", STR, "production", "the name error reports carry (`production`, `staging`)"),
    Setting("SLRT_LOG_LEVEL", choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO",
            "lowest level logged by the web app, workers and beat (to stderr; systemd's journal keeps it)"),
    Setting("SLRT_LOG_FORMAT", choice("text", "json"), "text",
            "`text`: `<UTC time> <level> <logger>: <message> key=value ...`; `json`: the same as one JSON "
            "object per line, for a log collector. Either way each line carries its context (`sms_id`, "
            "`case_id`, `request_id`, `worker`, `task_id`) and never a NIK, a full phone number or an SQL value"),
    Setting("SLRT_DB_POOL_SIZE", INT, 10,
            "database connections per process (a worker with N threads wants N or more); "
            "ignored for in-memory SQLite", rule=AT_LEAST_ONE),
    Setting("SLRT_WEB_BIND", STR, "127.0.0.1:8000",
            "where gunicorn listens (`gunicorn.conf.py`); the TLS proxy forwards to it"),
    Setting("SLRT_WEB_WORKERS", INT, 2, "gunicorn processes (`gunicorn.conf.py`): one per CPU core",
            rule=AT_LEAST_ONE),
    Setting("SLRT_WEB_THREADS", INT, 4,
            "threads per gunicorn process, each serving one request at a time; `SLRT_DB_POOL_SIZE` at least this",
            rule=AT_LEAST_ONE),
    Setting("SLRT_WORKER_CONCURRENCY", INT, 8,
            "threads per Celery worker (`deploy/slrt-worker@.service`, `--pool threads`): sending waits on the "
            "provider, not the CPU; `SLRT_DB_POOL_SIZE` at least this", rule=AT_LEAST_ONE),
    Setting("SLRT_SMS_GATEWAY", choice("console", "twilio", "android"), "console",
            "`console` (logs each SMS, number masked), `twilio` or `android`"),
    Setting("TWILIO_ACCOUNT_SID", STR, "", "required with the Twilio gateway"),
    Setting("TWILIO_AUTH_TOKEN", STR, "",
            "required with the Twilio gateway; also checks the signature of Twilio's callbacks", secret=True),
    Setting("TWILIO_FROM_NUMBER", STR, "",
            "the number Twilio sends from; with the Twilio gateway set exactly one of it and "
            "`TWILIO_MESSAGING_SERVICE_SID`"),
    Setting("TWILIO_MESSAGING_SERVICE_SID", STR, "",
            "a Messaging Service to send through instead of `TWILIO_FROM_NUMBER`"),
    Setting("SLRT_TWILIO_API_BASE", STR, "",
            "another address for Twilio's API (the local Twilio-speaking server in tests and benchmarks); "
            "empty = Twilio's own"),
    Setting("SLRT_PUBLIC_URL", STR, "http://127.0.0.1:5000",
            "the address Twilio reaches us at: status callbacks go to `<url>/sms/twilio/status/<id>`; "
            "set the number's inbound webhook to `<url>/sms/twilio/inbound`", production="https://slrt.example.go.id"),
    Setting("SLRT_ANDROID_URL", STR, "",
            "an Android phone running SMS Gateway for Android in local-server mode, e.g. "
            "`http://192.168.1.20:8080`; set, it is the gateway (`SLRT_SMS_GATEWAY=android`) "
            "or a second one beside the first"),
    Setting("SLRT_ANDROID_LOGIN", STR, "", "the local server's basic-auth user name shown in the app"),
    Setting("SLRT_ANDROID_PASSWORD", STR, "",
            "the local server's basic-auth password shown in the app (required with `SLRT_ANDROID_URL`)",
            secret=True),
    Setting("SLRT_ANDROID_SIGNING_KEY", STR, None,
            "enter it as the app's webhook signing key; received SMS go to "
            "`<SLRT_PUBLIC_URL>/sms/android/inbound`, sent/delivered/failed to `.../sms/android/status`",
            shown="with `SLRT_ANDROID_URL`: random, kept in `instance/android-signing.key`; "
                  "without: none (the phone's webhooks are refused)", secret=True),
    Setting("SLRT_ANDROID_RATE_PER_HOUR", FLOAT, 100.0,
            "the phone's own pace (its SIM's limits), apart from `SLRT_SMS_RATE`", rule=NOT_NEGATIVE),
    Setting("SLRT_SMS_ROUTES", STR, "",
            "sending policy: `kind=gateway,...` with kinds `resident`, `agency`, `staff`, `digest`, `reply`, "
            "e.g. `digest=android,agency=android` (bulk notices stay on `SLRT_SMS_GATEWAY`); a reply always "
            "answers on the gateway its SMS came in on, and a retry stays on the gateway of its first attempt. "
            "Set `SLRT_REPLY_NUMBER` to the phone's number so notices name the number residents can text"),
    Setting("SLRT_SMS_TIMEOUT", FLOAT, 10.0,
            "seconds a provider call may take (the twilio client has no timeout of its own)", rule=POSITIVE),
    Setting("SLRT_SMS_VALIDITY_SECONDS", FLOAT, 14400.0,
            "a message stuck at the provider longer than this expires instead of arriving late",
            rule=between(1, 36000)),
    Setting("SLRT_SMS_RATE", FLOAT, 0.0,
            "messages per second bought for the whole cluster (shared through Redis when the broker is Redis, "
            "per worker process otherwise); workers pace at 97 % of it to absorb jitter",
            shown="`0` (none)", rule=NOT_NEGATIVE),
    Setting("SLRT_QUIET_FROM", HHMM, "20:00",
            "no SMS to residents from this local time until `SLRT_QUIET_TO` (equal values switch quiet hours off); "
            "read at each sweep, so a changed value applies to the messages already waiting"),
    Setting("SLRT_QUIET_TO", HHMM, "07:00", "the end of residents' quiet hours"),
    Setting("SLRT_OFFICE_HOURS", HHMM_RANGE, "08:00-16:00", "agencies get SMS in these hours on working days"),
    Setting("SLRT_SWEEP_SECONDS", FLOAT, 30.0,
            "how often beat re-queues messages never picked up or due a retry", rule=POSITIVE),
    Setting("SLRT_SMS_RETRY_BASE_SECONDS", FLOAT, 30.0,
            "first retry delay; doubles per attempt, capped at 1 h, ±25 % jitter, 6 attempts", rule=NOT_NEGATIVE),
    Setting("SLRT_SMS_CLAIM_LEASE_SECONDS", FLOAT, 300.0,
            "a claimed message not recorded by then is presumed lost with its worker (at least 4 × "
            "`SLRT_SMS_TIMEOUT`; a claim held past half of it is renewed before use)"),
    Setting("SLRT_RECEIPT_HOURS", FLOAT, 24.0,
            "no delivery receipt by then: the village facilitator gets a follow-up (no resend)", rule=POSITIVE),
    Setting("SLRT_RECEIPT_CHECK_MINUTES", FLOAT, 15.0,
            "a message sent this long ago with no final receipt is looked up at its provider (receipts get "
            "lost on the way), then again at growing intervals and once more at `SLRT_RECEIPT_HOURS`, "
            "before any follow-up", rule=POSITIVE),
    Setting("SLRT_VERIFY_DAYS", FLOAT, 7.0,
            "days a resident has to answer \"sudah Anda terima? 1 Ya / 2 Belum\" before the completed referral "
            "shows as unverified (list badge, dashboard tile)", rule=NOT_NEGATIVE),
    Setting("SLRT_IMPORT_DIR", STR, "",
            "where DTSEN files uploaded on the import screen wait for a worker (web and workers must both reach "
            "it: the same server, or a shared folder); a file is deleted once imported, kept a day after a dry run",
            shown="`instance/imports`"),
    Setting("SLRT_IMPORT_MAX_MB", INT, 200,
            "the largest DTSEN file the import screen takes, in MB (the nginx site lets 210 MB through to its "
            "upload address)", rule=AT_LEAST_ONE),
    Setting("SLRT_IMPORT_PROCESSES", INT, 0,
            "processes that check the rows of a DTSEN import; 0: one per CPU (at most 4) for a file of 50,000 "
            "rows or more, else the worker alone", rule=NOT_NEGATIVE),
    Setting("SLRT_REPLY_CAP_PER_HOUR", INT, 6,
            "replies to SMS commands one phone gets per hour (two auto-responders cannot loop)", rule=NOT_NEGATIVE),
    Setting("SLRT_SMS_RETENTION_DAYS", FLOAT, 30.0,
            "message texts are erased after this; the rows stay for reports", rule=NOT_NEGATIVE),
    Setting("SLRT_RETENTION_YEARS", INT, 5,
            "cases closed or cancelled longer ago than this are anonymized each night, and their residents with "
            "them when no newer case of theirs remains (UU PDP 27/2022); report counts stay", rule=AT_LEAST_ONE),
    Setting("SLRT_AUDIT_RETENTION_YEARS", INT, 5,
            "audit log entries older than this many years are dropped, in whole months", rule=AT_LEAST_ONE),
    # Not read from the environment: what tests and benchmarks change, never an operator.
    Setting("SLRT_SMS_DISPATCH", BOOL, True,
            "queue the send task right after the commit that wrote a message; most tests turn it off "
            "and leave sending to the sweep", env=None),
    Setting("SLRT_AUDIT", BOOL, True,
            "log every read of personal data in the audit log (changes are logged regardless); the benchmark "
            "turns it off to measure its cost", env=None),
    Setting("SLRT_PASSWORD_HASH", STR, "argon2",
            "Flask-Security's password hash; tests lower the cost with `plaintext`", env=None),
    Setting("SLRT_COMPRESS", BOOL, True,
            "compress pages and static files with brotli or gzip; `bench/slow_line.py` turns it off to compare",
            env=None),
)

#: Setting by config key.
BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}


def load(instance_path: str, test_config: dict | None = None) -> dict[str, object]:
    """Return the validated settings for an app whose instance folder is ``instance_path``."""
    raw: dict[str, object] = {setting.key: setting.default for setting in SETTINGS}
    for setting in SETTINGS:
        if setting.env and os.environ.get(setting.env):
            raw[setting.key] = os.environ[setting.env]
    raw.update(test_config or {})
    settings = {key: _convert(key, value) for key, value in raw.items()}

    instance = Path(instance_path)
    if settings["SQLALCHEMY_DATABASE_URI"] is None:
        instance.mkdir(parents=True, exist_ok=True)
        settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'slrt.sqlite'}"
    if settings["CELERY_BROKER_URL"] is None:
        instance.mkdir(parents=True, exist_ok=True)
        settings["CELERY_BROKER_URL"] = f"sqla+sqlite:///{instance / 'celery-broker.sqlite'}"
    if settings["SECRET_KEY"] is None:
        settings["SECRET_KEY"] = _instance_secret(instance / "secret.key", os.urandom(32).hex())
    if settings["SLRT_PII_KEY"] is None:
        settings["SLRT_PII_KEY"] = _instance_secret(instance / "pii.key", new_key())
    if settings["SLRT_ANDROID_SIGNING_KEY"] is None:
        # Only a deployment with a phone needs (and keeps) one; without, every phone webhook is refused.
        settings["SLRT_ANDROID_SIGNING_KEY"] = _instance_secret(
            instance / "android-signing.key", os.urandom(24).hex()) if settings["SLRT_ANDROID_URL"] else ""

    _check_together(settings)
    settings["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(settings)
    settings["BABEL_DEFAULT_LOCALE"] = settings["SLRT_DEFAULT_LOCALE"]
    settings["BABEL_DEFAULT_TIMEZONE"] = settings["SLRT_TIMEZONE"]
    return settings


def _convert(key: str, value: object) -> object:
    """A declared setting's value converted (None stays None where the default is derived); others as given."""
    setting = BY_KEY.get(key)
    if setting is None or (value is None and setting.default is None):
        return value
    return setting.convert(value)


def _check_together(settings: dict[str, Any]) -> None:
    """Refuse settings that are each well-formed but do not fit together."""
    if settings["SLRT_SMS_GATEWAY"] == "android" and not settings["SLRT_ANDROID_URL"]:
        raise ConfigError("the android gateway needs SLRT_ANDROID_URL (the phone's local server)")
    if settings["SLRT_ANDROID_URL"] and not settings["SLRT_ANDROID_PASSWORD"]:
        raise ConfigError("SLRT_ANDROID_URL needs SLRT_ANDROID_PASSWORD (and usually SLRT_ANDROID_LOGIN)")
    if settings["SLRT_SMS_GATEWAY"] == "twilio":
        if not (settings["TWILIO_ACCOUNT_SID"] and settings["TWILIO_AUTH_TOKEN"]):
            raise ConfigError("the twilio gateway needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if bool(settings["TWILIO_FROM_NUMBER"]) == bool(settings["TWILIO_MESSAGING_SERVICE_SID"]):
            raise ConfigError("set one of TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    if settings["SLRT_READY_HEARTBEAT_SECONDS"] < 2 * settings["SLRT_HEARTBEAT_SECONDS"]:
        # One late heartbeat (a busy database, a long task) must not mark a process down.
        raise ConfigError("SLRT_READY_HEARTBEAT_SECONDS must be at least 2 x SLRT_HEARTBEAT_SECONDS")
    if settings["SLRT_SMS_CLAIM_LEASE_SECONDS"] < 4 * settings["SLRT_SMS_TIMEOUT"]:
        # A claim is renewed after half its lease; the rest must cover a lookup and a send.
        raise ConfigError("SLRT_SMS_CLAIM_LEASE_SECONDS must be at least 4 x SLRT_SMS_TIMEOUT")


def _engine_options(settings: dict[str, Any]) -> dict[str, object]:
    """SQLAlchemy's engine arguments: a pool per process, or one shared connection for in-memory SQLite.

    SQL parameters (names, NIK hashes, case summaries) are never put into errors or logs.
    """
    if is_memory_sqlite(str(settings["SQLALCHEMY_DATABASE_URI"])):
        # Each connection to ":memory:" would be a new, empty database: share one (and let
        # other threads use it, as the test client and Flask-SQLAlchemy do). No pool to size.
        return {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}, "hide_parameters": True}
    return {"pool_pre_ping": True, "pool_size": settings["SLRT_DB_POOL_SIZE"], "max_overflow": 20,
            "hide_parameters": True}


def is_memory_sqlite(url: str) -> bool:
    """True for ``sqlite://`` and ``sqlite:///:memory:``: a database that lives in one connection."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


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


# ---- the README's table ----------------------------------------------------------------------------

#: The lines around the generated table in README.md.
README_BEGIN = "<!-- settings: generated by `.venv/bin/python -m slrt.config README.md` from slrt/config.py -->"
README_END = "<!-- end of settings -->"


def shown_default(setting: Setting) -> str:
    """The README's "default" cell."""
    if setting.shown:
        return setting.shown
    value = setting.default
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return "`on`" if value else "`off`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def readme_table() -> str:
    """The README's settings table, and a line on the settings no environment variable sets."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{s.env}` | {shown_default(s)} | {s.help} |" for s in SETTINGS if s.env]
    in_code = [f"`{s.key}` ({shown_default(s)}: {s.help})" for s in SETTINGS if not s.env]
    if in_code:
        lines += ["", "Not read from the environment (tests and benchmarks pass them to `create_app`): "
                  + "; ".join(in_code) + "."]
    return "\n".join(lines)


def with_readme_table(readme: str) -> str:
    """``readme`` with the text between its settings markers replaced by :func:`readme_table`."""
    begin, end = readme.find(README_BEGIN), readme.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"no {README_BEGIN!r} ... {README_END!r} in the README")
    return readme[: begin + len(README_BEGIN)] + "\n" + readme_table() + "\n" + readme[end:]


# ---- the production environment file --------------------------------------------------------------

#: Where the environment file's template lives, from the project folder.
ENV_TEMPLATE = Path("deploy") / "slrt.env.example"
ENV_HEADER = """\
# SLRT settings for the web app, the workers and beat: every setting read from the environment.
# GENERATED by `.venv/bin/python -m slrt.config README.md` from slrt/config.py: edit there, not here.
#
# Copy to /etc/slrt/slrt.env (owner root, group slrt, mode 640): the systemd units in deploy/ read it
# (EnvironmentFile=), and so must a shell that runs `flask` commands:
#   set -a; . /etc/slrt/slrt.env; set +a
# Uncommented lines are what a production server sets: fill them in. Commented lines show the
# default; an empty value counts as unset. No spaces around "="; a value with spaces in double quotes.
"""


def env_template() -> str:
    """deploy/slrt.env.example: each setting's meaning, default, and a line to set it."""
    blocks = [ENV_HEADER]
    for setting in SETTINGS:
        if not setting.env:
            continue
        meaning = textwrap.wrap(setting.help.replace("`", "").replace("**", ""), 96)
        lines = [f"# {line}" for line in meaning]
        lines.append(f"# default: {shown_default(setting).replace('`', '')}")
        if setting.production is not None:
            lines.append(f"{setting.env}={setting.production}")
        else:
            lines.append(f"#{setting.env}={_env_default(setting)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _env_default(setting: Setting) -> str:
    """The default as the environment would spell it; empty when derived at start-up."""
    value = setting.default
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def main(argv: list[str] | None = None) -> None:
    """Print the README's settings table, or write it into the README given and write the env template."""
    parser = argparse.ArgumentParser(prog="python -m slrt.config", description=main.__doc__)
    parser.add_argument("readme", nargs="?", type=Path,
                        help=f"rewrite the table between the markers in this file, and write {ENV_TEMPLATE} "
                             "beside it")
    args = parser.parse_args(argv)
    if args.readme is None:
        sys.stdout.write(readme_table() + "\n")
        return
    text = args.readme.read_text(encoding="utf-8")
    args.readme.write_text(with_readme_table(text), encoding="utf-8")
    (args.readme.parent / ENV_TEMPLATE).write_text(env_template(), encoding="utf-8")


if __name__ == "__main__":
    main()
