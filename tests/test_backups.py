"""Backups, restores and upgrade checks as an operator runs them: the CLI on a database of the test's own.

On SQLite by default; with TEST_DATABASE_URL, on a PostgreSQL database created for the test on
that server (fakes.pipeline.postgres_database), dropped afterwards. The restore runs the
commands of README.md's "Backups and restore" as written, in a shell.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from flask_migrate import downgrade, upgrade

from app import create_app
from fakes.builders import make_case, make_district, make_referral, make_resident
from fakes.pipeline import postgres_database
from slrt import residents
from slrt.extensions import db
from slrt.models import Resident
from slrt.models.enums import Role
from slrt.pii import new_key
from tests.conftest import FROZEN_AT

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def own_url(tmp_path) -> Iterator[str]:
    """A database of this test's own: SQLite where the embedded default keeps it, or a new PostgreSQL one."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        (tmp_path / "instance").mkdir()
        yield f"sqlite:///{tmp_path / 'instance' / 'slrt.sqlite'}"
        return
    with postgres_database(server) as url:
        yield url


def make_app(url: str, tmp_path: Path, *, pii_key: str, migrated: bool = True) -> Flask:
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        "SLRT_PII_KEY": pii_key, "SECRET_KEY": "backup-test-secret", "SLRT_PASSWORD_HASH": "plaintext",
        "SLRT_SMS_DISPATCH": False,
    })
    if migrated:
        with using(app):
            upgrade()
    return app


@contextmanager
def using(app: Flask) -> Iterator[None]:
    """The app's context; its connections closed afterwards (a database with open ones cannot be dropped)."""
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def run(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["slrt", *args])


def seed(app: Flask) -> tuple[int, str]:
    """A district with its staff, a household of three residents, a case with a referral; committed.

    Returns the second resident's id and NIK."""
    with using(app), time_machine.travel(FROZEN_AT, tick=False):
        d = make_district()
        family = residents.register_household(kk_number="3316010902700001", address="RT 02 RW 01",
                                              village=d.villages[0], actor=d.user(Role.FRONT_OFFICE))
        people = [make_resident(d, name=name, birth=date(1970 + i, 3, 9 + i), household=family)
                  for i, name in enumerate(["Siti Aminah", "Sri Wahyuni", "Sutrisno"])]
        make_referral(d, make_case(d, people[0]))
        db.session.commit()
        return people[1].id, people[1].nik


def row_counts() -> dict[str, int]:
    """Rows in every table of the app's database (the migrations' bookkeeping too)."""
    with db.engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
                for name in names}


def restore_commands(kind: str) -> list[str]:
    """The README's restore commands for ``kind`` ('postgresql' or 'sqlite'), as an operator copies them."""
    section = README.read_text(encoding="utf-8").split("### Backups and restore\n", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    block = next(b for b in blocks if "slrt backup" not in b and ("pg_restore" in b) == (kind == "postgresql"))
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def restore(kind: str, url: str, backup: Path, root: Path) -> None:
    """Run the README's restore commands in a shell in ``root`` (where ``instance/`` is), as an operator would."""
    libpq_url = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    for command in restore_commands(kind):
        done = subprocess.run(["bash", "-c", command], cwd=root, capture_output=True, text=True,
                              env={**os.environ, "DATABASE_URL": libpq_url, "BACKUP": str(backup)})
        assert done.returncode == 0, f"{command}\n{done.stderr}"


def drop(url: str) -> None:
    """Lose the database: PostgreSQL's dropped and created again empty; SQLite's file deleted."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {parsed.database} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {parsed.database}")
    admin.dispose()


def test_backup_then_drop_then_the_readme_restore_gives_back_every_row_and_a_readable_nik(own_url, tmp_path):
    key = new_key()
    app = make_app(own_url, tmp_path, pii_key=key)
    resident_id, nik = seed(app)
    folder = tmp_path / "backups"
    folder.mkdir()
    with using(app):
        before = row_counts()
        kind = db.engine.dialect.name
        result = run(app, "backup", str(folder))
    assert result.exit_code == 0, result.output
    assert before["resident"] == 3 and before["referral"] == 1 and before["staff"] > 0

    made = re.search(r"^cadangan: (\S+) \((\d+\.\d) (KB|MB)\)$", result.output, re.M)
    assert made, result.output
    path = Path(made.group(1))
    assert os.listdir(folder) == [path.name]  # nothing else: no temporary file left
    assert re.fullmatch(r"slrt(-[\w.-]+)?-\d{8}T\d{6}Z\.(dump|sqlite)", path.name)
    assert path.read_bytes()[:5] == (b"PGDMP" if kind == "postgresql" else b"SQLit")
    assert "Kunci TIDAK ada di cadangan ini" in result.output
    assert "SLRT_PII_KEY" in result.output and "SLRT_SECRET_KEY" in result.output

    drop(own_url)
    with using(make_app(own_url, tmp_path, pii_key=key, migrated=False)):
        assert sa.inspect(db.engine).get_table_names() == []

    restore(kind, own_url, path, tmp_path)

    restarted = make_app(own_url, tmp_path, pii_key=key, migrated=False)
    with using(restarted):
        assert row_counts() == before
        assert db.session.get(Resident, resident_id).nik == nik
        assert residents.find_by_nik(nik).id == resident_id  # the lookup hash finds it with the key
        check = run(restarted, "upgrade-check")
    assert check.exit_code == 0, check.output
    assert re.search(r"^SLRT_PII_KEY +: cocok dengan data tersimpan \(3 baris diperiksa\)$", check.output, re.M)
    assert check.output.splitlines()[-1].split() == ["ready", ":", "ya"]


def test_the_readme_restore_over_a_database_changed_since_takes_it_back_to_the_backup(own_url, tmp_path):
    key = new_key()
    app = make_app(own_url, tmp_path, pii_key=key)
    resident_id, _ = seed(app)
    with using(app):
        before = row_counts()
        kind = db.engine.dialect.name
        made = run(app, "backup", str(tmp_path))
        assert made.exit_code == 0, made.output
        path = Path(re.search(r"^cadangan: (\S+) ", made.output, re.M).group(1))
        with db.engine.begin() as conn:  # a clerk's mistake after the backup
            conn.exec_driver_sql("DELETE FROM resident_name_word")
            conn.exec_driver_sql("UPDATE resident SET name = 'Salah Ketik'")
        assert row_counts() != before

    restore(kind, own_url, path, tmp_path)
    with using(make_app(own_url, tmp_path, pii_key=key, migrated=False)):
        assert row_counts() == before
        assert db.session.get(Resident, resident_id).name == "Sri Wahyuni"


def test_upgrade_check_refuses_a_pii_key_the_data_was_not_written_with(own_url, tmp_path):
    resident_id, _ = seed(make_app(own_url, tmp_path, pii_key=new_key()))
    other = make_app(own_url, tmp_path, pii_key=new_key(), migrated=False)
    with using(other):
        result = run(other, "upgrade-check")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[-1].split() == ["ready", ":", "TIDAK"]
    refused = next(line for line in lines if line.startswith("SLRT_PII_KEY "))
    assert "BELUM SIAP: kunci ini tidak cocok dengan data tersimpan (3 dari 3 yang diperiksa)" in refused
    assert f"warga {resident_id - 1}: NIK-nya tidak bisa didekripsi dengan kunci ini" in result.output
    assert f"warga {resident_id + 1}: NIK-nya tidak bisa didekripsi dengan kunci ini" in result.output
    assert re.search(r"keluarga \d+: nomor KK-nya tidak bisa didekripsi dengan kunci ini", result.output)


#: The code's migrations, oldest first (the files are numbered in order), and the last one.
MIGRATIONS = sorted(path.stem for path in (Path(__file__).resolve().parent.parent / "migrations" / "versions")
                    .glob("0*.py"))
HEAD = MIGRATIONS[-1]


def test_upgrade_check_follows_the_schema_from_empty_to_head_and_refuses_a_newer_one(own_url, tmp_path):
    app = make_app(own_url, tmp_path, pii_key=new_key(), migrated=False)
    with using(app):
        empty = run(app, "upgrade-check")
        assert empty.exit_code == 1
        assert f"{len(MIGRATIONS)} migrasi belum dijalankan (basis data di kosong, kode di {HEAD})" in empty.output
        assert "basis data kosong: tidak ada data untuk memeriksa kunci" in empty.output

        upgrade()
        downgrade(revision="0013_name_words")
        behind = run(app, "upgrade-check")
        assert behind.exit_code == 1
        later = MIGRATIONS[MIGRATIONS.index("0013_name_words") + 1:]
        assert (f"BELUM SIAP: {len(later)} migrasi belum dijalankan (basis data di 0013_name_words, kode di {HEAD}); "
                "jalankan dengan: flask --app app db upgrade") in behind.output
        pending = [line.split()[0] for line in behind.output.splitlines() if line.startswith(" ")]
        assert pending == later  # in the order db upgrade applies them
        assert "0015_region_setup  Setting up a district from the official region list" in behind.output

        upgrade()
        ready = run(app, "upgrade-check")
        assert ready.exit_code == 0, ready.output
        assert re.search(rf"^schema +: sesuai migrasi terakhir kode \({HEAD}\)$", ready.output, re.M)
        assert re.search(r"^SLRT_PII_KEY +: belum ada warga", ready.output, re.M)

        with db.engine.begin() as conn:  # newer code migrated it, then the old code came back
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        newer = run(app, "upgrade-check")
        assert newer.exit_code == 1
        assert "basis data di 9999_from_the_future, yang tidak dikenal kode ini" in newer.output


def test_backup_refuses_a_folder_it_cannot_write_into_and_leaves_nothing(own_url, tmp_path):
    app = make_app(own_url, tmp_path, pii_key=new_key())
    with using(app):
        missing = run(app, "backup", str(tmp_path / "no-such-folder"))
        assert missing.exit_code == 1
        assert "bukan folder: buat dulu" in missing.output
        assert not (tmp_path / "no-such-folder").exists()

        unwritable = run(app, "backup", "/proc")  # not writable, not even by root
        assert unwritable.exit_code == 1
        assert "Tidak bisa menulis ke /proc" in unwritable.output
        if os.geteuid() != 0:
            locked = tmp_path / "locked"
            locked.mkdir(mode=0o500)
            result = run(app, "backup", str(locked))
            assert result.exit_code == 1 and "Tidak bisa menulis ke" in result.output
            assert os.listdir(locked) == []


def test_backup_of_an_in_memory_database_is_refused(tmp_path):
    app = make_app("sqlite://", tmp_path, pii_key=new_key())
    with using(app):
        result = run(app, "backup", str(tmp_path))
    assert result.exit_code == 1
    assert "Basis data di memori (sqlite://) hanya hidup di prosesnya" in result.output


@pytest.fixture
def postgres_url(own_url):
    if not own_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: set TEST_DATABASE_URL")
    return own_url


def test_backup_without_pg_dump_on_the_path_says_what_to_install(postgres_url, tmp_path, monkeypatch):
    app = make_app(postgres_url, tmp_path, pii_key=new_key())
    folder = tmp_path / "backups"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with using(app):
        result = run(app, "backup", str(folder))
    assert result.exit_code == 1
    assert re.search(r"pg_dump tidak ditemukan: .*apt install postgresql-client-\d+", result.output)
    assert os.listdir(folder) == []


def test_backup_with_a_pg_dump_older_than_the_server_names_the_versions(postgres_url, tmp_path, monkeypatch):
    # No older PostgreSQL client is installable here: a script answering --version as 9.6 stands in for one.
    bin_dir = tmp_path / "old-client"
    bin_dir.mkdir()
    script = bin_dir / "pg_dump"
    script.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    script.chmod(0o755)
    app = make_app(postgres_url, tmp_path, pii_key=new_key())
    folder = tmp_path / "backups"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with using(app):
        server = db.session.execute(sa.text("SHOW server_version")).scalar_one().split()[0]
        result = run(app, "backup", str(folder))
    assert result.exit_code == 1
    assert (f"pg_dump 9 lebih lama daripada server PostgreSQL {server} dan tidak bisa mencadangkannya: "
            f"pasang postgresql-client-{server.split('.')[0]}") in result.output
    assert os.listdir(folder) == []


def test_a_failing_pg_dump_leaves_no_half_written_file_and_never_shows_the_password(postgres_url, tmp_path):
    """A role that may connect but not read the tables: pg_dump starts, then fails on the first table."""
    role = f"slrt_no_access_{os.getpid()}"
    admin = sa.create_engine(sa.engine.make_url(postgres_url), isolation_level="AUTOCOMMIT")
    make_app(postgres_url, tmp_path, pii_key=new_key())
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'sangat-rahasia-42'")
    try:
        url = sa.engine.make_url(postgres_url).set(username=role, password="sangat-rahasia-42")
        app = make_app(url.render_as_string(hide_password=False), tmp_path, pii_key=new_key(), migrated=False)
        folder = tmp_path / "backups"
        folder.mkdir()
        with using(app):
            result = run(app, "backup", str(folder))
        assert result.exit_code == 1
        assert "pg_dump gagal:" in result.output and "permission denied" in result.output
        assert "sangat-rahasia-42" not in result.output
        assert os.listdir(folder) == []
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()
