"""DTSEN import speed and memory: a district's export of 1,000,000 residents into PostgreSQL.

Builds a DTSEN-shaped CSV (fakes/dtsen.py: families of the 295 villages of Blora, one bad row in
``--bad-every`` of realistic kinds) in a child process, then imports it into a fresh PostgreSQL
database set up as the district goes live (setup-district 33.16), in a child process of its own
so that its peak memory is the import's alone. Then imports the same file again (nothing changes)
and a 100,000-row XLSX of other residents. Prints one line per run:

    import_residents rows=<n> seconds=<s> rows_per_s=<n> refused=<n> peak_mb=<n>

Usage: .venv/bin/python bench/import_residents.py [--rows 1000000] [--xlsx-rows 100000]
(BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/slrt_bench_dtsen, is dropped first).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench_dtsen")
KEY = "Zm9yLXRoZS1iZW5jaC1vbmx5LW5vdC1hLXJlYWwta2V5LTAxMjM0NTY3ODk="
AS_OF = date(2026, 9, 30)


def _app():
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "DATABASE_URL": PG_URL, "SLRT_PII_KEY": KEY,
                       "SECRET_KEY": "bench", "SLRT_DEFAULT_LOCALE": "en"})


def _villages():
    """The district's villages as the generator wants them (after setup-district)."""
    from sqlalchemy import select
    from sqlalchemy.orm import aliased

    from fakes.dtsen import Village
    from slrt.extensions import db
    from slrt.models import Region
    from slrt.models.enums import RegionLevel

    parent = aliased(Region)
    rows = db.session.execute(select(Region.code, Region.name, parent.name).join(parent, parent.id == Region.parent_id)
                              .where(Region.level == RegionLevel.VILLAGE).order_by(Region.code)).all()
    return [Village(code=code, name=name, district=district) for code, name, district in rows]


def prepare(folder: str, rows: int, xlsx_rows: int, bad_every: int) -> None:
    """A fresh database with the district set up, and the two files (in this child process)."""
    from bench.regions import fresh_postgres
    from fakes.dtsen import people, write_csv, write_xlsx

    fresh_postgres(PG_URL)
    from flask_migrate import upgrade

    app = _app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        result = app.test_cli_runner().invoke(args=["slrt", "setup-district", "33.16"])
        assert result.exit_code == 0, result.output
        villages = _villages()
    started = time.perf_counter()
    write_csv(Path(folder) / "dtsen.csv", people(villages, rows, bad_every=bad_every))
    # The XLSX holds other people (another birth range): new residents, not the CSV's again.
    write_xlsx(Path(folder) / "dtsen.xlsx", people(villages, xlsx_rows, bad_every=bad_every, seed=17,
                                                   households=xlsx_rows * 3 // 10, first_person=rows * 2))
    print(f"# files written in {time.perf_counter() - started:.1f} s: "
          f"{os.path.getsize(Path(folder) / 'dtsen.csv') / 1e6:.0f} MB CSV, "
          f"{os.path.getsize(Path(folder) / 'dtsen.xlsx') / 1e6:.0f} MB XLSX", flush=True)


def one_import(path: str, label: str, queue) -> None:
    """Import ``path`` as the CLI does (the system operator) and report the figures."""
    from slrt import dtsen_import
    from slrt.access import SYSTEM_ACTOR

    app = _app()
    with app.app_context():
        started = time.perf_counter()
        record = dtsen_import.import_file(path, filename=os.path.basename(path), actor=SYSTEM_ACTOR, as_of=AS_OF)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put((label, record.state.value, record.rows_done, seconds, record.rows_refused, peak_mb,
                   record.residents_created, record.residents_updated, record.residents_unchanged))


def measured(path: str, label: str) -> None:
    queue = multiprocessing.get_context("spawn").SimpleQueue()
    process = multiprocessing.get_context("spawn").Process(target=one_import, args=(path, label, queue))
    process.start()
    process.join()
    label, state, rows, seconds, refused, peak_mb, created, updated, unchanged = queue.get()
    print(f"# {label}: {state}, {created} new, {updated} updated, {unchanged} unchanged")
    print(f"import_residents file={label} rows={rows} seconds={seconds:.1f} rows_per_s={rows / seconds:.0f} "
          f"refused={refused} peak_mb={peak_mb:.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--bad-every", type=int, default=40, help="one bad row in N (default 40: 2.5 %%)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="slrt-bench-dtsen-")
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=prepare, args=(folder, args.rows, args.xlsx_rows, args.bad_every))
    child.start()
    child.join()
    if child.exitcode:
        sys.exit("preparing the files failed")
    measured(f"{folder}/dtsen.csv", "csv")
    measured(f"{folder}/dtsen.csv", "csv_again")
    measured(f"{folder}/dtsen.xlsx", "xlsx")
    for name in ("dtsen.csv", "dtsen.xlsx"):
        os.remove(f"{folder}/{name}")


if __name__ == "__main__":
    main()
