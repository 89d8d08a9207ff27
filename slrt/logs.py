"""One log format for the web app, the Celery worker and beat.

Every line has a UTC timestamp, the level, the logger and the message, then its context
fields: those a call passes in ``extra`` (``sms_id``, ``case_id``, ``code``, ...) and those of
where it runs (``request_id`` of a web request, ``worker`` and ``task_id`` in a worker).
``SLRT_LOG_FORMAT=json`` writes the same as one JSON object per line (python-json-logger).

Personal data never reaches a line: a national identity number (16 digits) is replaced by
``[NIK]`` and an Indonesian phone number is masked (``+62812****678``), in the message and in
every field, whatever the caller passed. SQL parameters are kept out by the engine
(``hide_parameters``; slrt.config) and SQLAlchemy's own loggers stay at WARNING. With
``SENTRY_DSN`` set, unhandled errors also go to Sentry, scrubbed the same way.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from types import MappingProxyType
from typing import IO, Any

import sentry_sdk
from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.flask import FlaskIntegration

#: The fields of where the code runs, added to every line logged there: this request or task's,
#: and this process's (a worker's name, which its pool's threads do not inherit as a context).
_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "slrt_log_context", default=MappingProxyType({}))
_PROCESS: dict[str, Any] = {}
#: Attributes every LogRecord has: the rest are the caller's ``extra``.
_RECORD_FIELDS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
#: Loggers that would log SQL statements and their parameters at INFO.
_QUIET = ("sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm")

_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
#: A mobile or landline number: +62 / 62 / 0, then 8-12 digits, with spaces or dashes between groups; also
#: URL-encoded (``To=%2B62...`` in a provider URL an HTTP client logs). Not a run of digits inside a token
#: (a task id ``62248277-4951-...`` is no phone number).
_PHONE = re.compile(r"(?:%2[Bb](?=62)|(?<![\w+-]))(?:\+62|62|0)(?:[ -]?\d){8,12}(?![\w-])")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _mask_phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0).removeprefix("%2B").removeprefix("%2b"))
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return f"+{digits[:5]}****{digits[-3:]}"


def redact(text: str) -> str:
    """``text`` with every NIK replaced and every phone number masked."""
    return _PHONE.sub(_mask_phone, _NIK.sub("[NIK]", text))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class ContextFilter(logging.Filter):
    """Adds the context fields and masks personal data in the message and every field."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in {**_PROCESS, **_CONTEXT.get()}.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        for key in [k for k in record.__dict__ if k not in _RECORD_FIELDS]:
            setattr(record, key, _clean(getattr(record, key)))
        if record.exc_info and not record.exc_text:  # a traceback's values (an IntegrityError's row) too
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-06T02:33:55.123Z WARNING slrt.sending: sms failed sms_id=12 code=30005 worker=...``"""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + f".{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [f"{key}={_field(value)}" for key, value in record.__dict__.items() if key not in _RECORD_FIELDS]
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # fields on the first line, a traceback below
        return f"{head} {' '.join(fields)}{newline}{rest}"


def _field(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


def _json_formatter() -> logging.Formatter:
    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                              rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
    formatter.converter = time.gmtime
    formatter.default_time_format, formatter.default_msec_format = "%Y-%m-%dT%H:%M:%S", "%s.%03dZ"
    return formatter


class _Handler(logging.StreamHandler):
    """Ours, so configuring again replaces it instead of adding a second copy of every line."""


def configure(level: str = "INFO", fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Send every logger's lines to ``stream`` (stderr) in the one format; safe to call again."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(_json_formatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def bind_process(**fields: Any) -> None:
    """Add ``fields`` to every line this process logs, in any thread (a worker's name)."""
    _PROCESS.update({k: v for k, v in fields.items() if v is not None})


def bind(**fields: Any) -> contextvars.Token:
    """Add ``fields`` to every line logged from here (this request, task or thread) on."""
    return _CONTEXT.set(MappingProxyType({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}}))


def unbind(token: contextvars.Token) -> None:
    with suppress(ValueError):  # set in another context (a streamed answer's generator): nothing of ours is left
        _CONTEXT.reset(token)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def request_id(header: str | None) -> str:
    """The caller's request id (a proxy's ``X-Request-ID``) when it is a sane token, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex[:16]


def _scrub(value: Any) -> Any:
    """An error report's value with every NIK and phone number masked, all the way down."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _before_send(event: dict, _hint: dict) -> dict:
    event.pop("user", None)  # who was signed in is the staff's business, not the error tracker's
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)  # a form holds NIKs and phones; a cookie signs someone in
    return _scrub(event)


def init_error_reports(dsn: str, environment: str) -> None:
    """Send unhandled errors of the web app, the worker and beat to Sentry (or a compatible server)
    at ``dsn``, scrubbed: no form, cookie or user, every NIK and phone number masked. Once per process."""
    if not dsn or sentry_sdk.get_client().is_active():
        return
    sentry_sdk.init(dsn=dsn, environment=environment, send_default_pii=False, include_local_variables=False,
                    max_request_body_size="never", before_send=_before_send, before_send_transaction=_before_send,
                    integrations=[FlaskIntegration(), CeleryIntegration()], traces_sample_rate=0.0)


def init_app(app: Flask) -> None:
    """Log in the one format (SLRT_LOG_LEVEL, SLRT_LOG_FORMAT), each request's lines with its id.

    The id is the proxy's ``X-Request-ID`` when it sent a sane one, else a new one; the answer
    carries it back, so a clerk's error reference and the operator's log line meet.
    """
    configure(app.config["SLRT_LOG_LEVEL"], app.config["SLRT_LOG_FORMAT"])
    init_error_reports(app.config["SENTRY_DSN"], app.config["SLRT_ENVIRONMENT"])

    @app.before_request
    def _bind_request() -> None:
        g.slrt_request_id = request_id(request.headers.get("X-Request-ID"))
        g.slrt_log_token = bind(request_id=g.slrt_request_id)

    @app.after_request
    def _say_request_id(response: Response) -> Response:
        if "slrt_request_id" in g:
            response.headers["X-Request-ID"] = g.slrt_request_id
        return response

    @app.teardown_request
    def _unbind_request(_exc: BaseException | None) -> None:
        token = g.pop("slrt_log_token", None)
        if token is not None:
            unbind(token)
