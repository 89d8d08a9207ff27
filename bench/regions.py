"""Loading the official region list: the whole country, and ``setup-district 33.16`` (Kabupaten Blora).

On an empty, migrated database each time (a temporary SQLite file, or the PostgreSQL database
at BENCH_DATABASE_URL, emptied first), it times, through the operator's commands:

- ``flask slrt setup-district 33.16`` on an empty database, then again (nothing to change);
- ``flask slrt load-regions`` (38 provinces, 514 regencies, 7,285 districts, 83,762 villages),
  then again (nothing to change).

Prints one line per step and a summary line:

    regions db=<sqlite|postgresql> setup_district_s=<s> setup_again_s=<s> national_s=<s> national_again_s=<s>

Usage: .venv/bin/python bench/regions.py [--postgres]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench_regions")


def fresh_postgres(url: str) -> None:
    from slrt.config import _normalize_db_url

    server = sa.make_url(_normalize_db_url(url))
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{server.database}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{server.database}"')
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help=f"use {PG_URL} (dropped and created again)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="slrt-bench-regions-")
    if args.postgres:
        url = PG_URL
        fresh_postgres(url)
    else:
        url = f"sqlite:///{folder}/regions.sqlite"

    from flask_migrate import upgrade

    from app import create_app
    from slrt.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATABASE_URL": url, "SLRT_DEFAULT_LOCALE": "en"})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.remove()
    runner = app.test_cli_runner()
    figures = {}
    for key, command in (("setup_district_s", ["setup-district", "33.16"]),
                         ("setup_again_s", ["setup-district", "33.16"]),
                         ("national_s", ["load-regions"]), ("national_again_s", ["load-regions"])):
        started = time.perf_counter()
        result = runner.invoke(args=["slrt", *command])
        figures[key] = time.perf_counter() - started
        if result.exit_code != 0:
            sys.exit(result.output)
        print(f"$ flask slrt {' '.join(command)}   ({figures[key]:.2f} s)")
        print("  " + result.output.strip().replace("\n", "\n  "))
    name = "postgresql" if args.postgres else "sqlite"
    print(f"regions db={name} " + " ".join(f"{key}={value:.2f}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
