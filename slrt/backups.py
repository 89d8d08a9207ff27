"""Backups of the database: ``pg_dump`` on PostgreSQL, SQLite's online backup API on the embedded default.

A backup is written under a temporary name in the target folder (SQLite's copy checked), synced,
then renamed to its final name (``slrt-<database>-<UTC time>.dump`` or ``.sqlite``;
``slrt-<UTC time>.*`` for a database named slrt): the folder never holds a half-written file
under a backup's name, and a refusal leaves nothing behind. The keys are not in a backup (they
are settings, not rows): SLRT_PII_KEY reads the NIK and KK numbers in it, SLRT_SECRET_KEY the
staff's passwords and authenticator apps, so both are kept apart from it. How to restore is in
README.md, "Backups and restore".
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.engine import URL

from slrt import clock
from slrt.config import is_memory_sqlite
from slrt.errors import DomainError
from slrt.extensions import db


class BackupError(DomainError):
    """No backup was made (the folder, the tool or the database refused); nothing was left behind."""


@dataclass(frozen=True)
class Backup:
    """A finished backup file."""

    path: Path
    #: Bytes.
    size: int
    #: "postgresql" (pg_dump custom format) or "sqlite" (a database file).
    kind: str


def backup(directory: str | os.PathLike) -> Backup:
    """Back up the app's database into ``directory``; raise BackupError when it cannot, leaving nothing."""
    folder = _writable_folder(Path(directory))
    url = db.engine.url
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    backend = url.get_backend_name()
    if backend == "postgresql":
        target = _unused_name(folder, f"{_stem(url.database or 'db')}-{stamp}", ".dump")
        _write_then_rename(target, lambda partial: _pg_dump(url, partial))
        return Backup(target, target.stat().st_size, "postgresql")
    if backend == "sqlite":
        if is_memory_sqlite(url.render_as_string()):
            raise BackupError(_l("An in-memory database (sqlite://) lives only in its process: "
                                 "there is nothing to back up."))
        source = Path(url.database)
        if not source.is_file():
            raise BackupError(_l("There is no database file at %(path)s: nothing to back up.", path=source))
        target = _unused_name(folder, f"{_stem(source.stem)}-{stamp}", ".sqlite")
        _write_then_rename(target, lambda partial: _sqlite_backup(source, partial))
        return Backup(target, target.stat().st_size, "sqlite")
    raise BackupError(_l("Backups are made of PostgreSQL and SQLite databases only, not %(backend)s.",
                         backend=backend))


def describe(made: Backup) -> list[str]:
    """What the operator reads after a backup: the file, its size, and where the keys are not."""
    return [
        gettext("backup: %(path)s (%(size)s)", path=made.path, size=human_size(made.size)),
        gettext("The keys are NOT in this backup. Keep SLRT_PII_KEY (without it no NIK or KK number in "
                "the backup can be read) and SLRT_SECRET_KEY (passwords and authenticator apps) apart from it, "
                "e.g. in a password manager or a safe; when the environment does not set them they are the "
                "files instance/pii.key and instance/secret.key."),
    ]


def human_size(size: int) -> str:
    """1536 -> '1.5 KB': bytes in decimal units, one decimal."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


# ---- the folder and the file ------------------------------------------------------------------------


def _writable_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise BackupError(_l("%(folder)s is not a folder: create it first (backups go into an existing folder).",
                             folder=folder))
    probe = folder / f".slrt-backup-probe-{os.getpid()}"
    try:  # os.access says yes to root on a read-only mount; writing is the only true test
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BackupError(_l("Cannot write into %(folder)s: %(reason)s.", folder=folder,
                             reason=exc.strerror or exc)) from None
    return folder.resolve()


def _stem(database: str) -> str:
    """'slrt' -> 'slrt', 'blora' -> 'slrt-blora': the start of a backup's file name, safe in any shell."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", database) or "db"
    return name if name == "slrt" else f"slrt-{name}"


def _unused_name(folder: Path, stem: str, suffix: str) -> Path:
    """``stem + suffix`` in ``folder``, or ``stem-2 + suffix``... when a backup of the same second is there."""
    candidate, n = folder / f"{stem}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate


def _write_then_rename(target: Path, write: Callable[[Path], None]) -> None:
    """Have ``write`` fill a temporary file beside ``target``, sync it, rename it; on any failure remove it."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        write(partial)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except OSError as exc:
        raise BackupError(_l("Cannot write the backup %(path)s: %(reason)s.", path=target,
                             reason=exc.strerror or exc)) from None
    finally:
        partial.unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY)
    try:  # the rename itself survives a power cut
        os.fsync(directory)
    finally:
        os.close(directory)


# ---- SQLite ------------------------------------------------------------------------------------------


def _sqlite_backup(source: Path, out: Path) -> None:
    """Copy ``source`` page by page with SQLite's online backup API: a consistent copy while the app runs."""
    reader = sqlite3.connect(source, timeout=15)
    try:
        writer = sqlite3.connect(out)
        try:
            reader.backup(writer)
            check = writer.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            writer.close()
    except sqlite3.Error as exc:
        raise BackupError(_l("SQLite could not back up %(path)s: %(reason)s.", path=source, reason=exc)) from None
    finally:
        reader.close()
    if check != "ok":
        raise BackupError(_l("The copy of %(path)s fails SQLite's check: %(reason)s.", path=source, reason=check))


# ---- PostgreSQL ----------------------------------------------------------------------------------------


def _pg_dump(url: URL, out: Path) -> None:
    """Run ``pg_dump -Fc`` into ``out``; the password goes through PGPASSWORD, never the command line."""
    server = _server_version()
    exe = shutil.which("pg_dump")
    if exe is None:
        raise BackupError(_l("pg_dump was not found: install the PostgreSQL client of the server's version "
                             "(Debian: apt install postgresql-client-%(major)s).", major=server[0]))
    client = _client_version(exe)
    if client is not None and client < server[0]:
        raise BackupError(_l("pg_dump %(client)s is older than the PostgreSQL %(server)s server and cannot dump it: "
                             "install postgresql-client-%(major)s (or put its pg_dump first on PATH).",
                             client=client, server=server[1], major=server[0]))
    # A libpq URI without the password: user, host, port, database and options such as sslmode.
    target = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run([exe, "--format=custom", "--no-password", f"--file={out}", f"--dbname={target}"],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = " ".join(done.stderr.split())[-600:] or f"exit status {done.returncode}"
        if client is not None and client != server[0]:
            reason += " " + gettext("(pg_dump %(client)s, server %(server)s)", client=client, server=server[1])
        raise BackupError(_l("pg_dump failed: %(reason)s", reason=reason))


def _server_version() -> tuple[int, str]:
    """The server's major version and its full version text, e.g. (15, '15.20')."""
    with db.engine.connect() as conn:
        number = int(conn.exec_driver_sql("SHOW server_version_num").scalar_one())
        text = str(conn.exec_driver_sql("SHOW server_version").scalar_one()).split()[0]
    return number // 10000, text


def _client_version(exe: str) -> int | None:
    """pg_dump's major version ('pg_dump (PostgreSQL) 15.20 (Debian ...)' -> 15), None if it does not say."""
    try:
        shown = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\)\s*(\d+)", shown) or re.search(r"(\d+)\.\d+", shown)
    return int(found.group(1)) if found else None
