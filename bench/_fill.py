"""The PostgreSQL databases the benchmarks fill once: the demo district plus bulk rows.

bench/list_pages.py and bench/report.py fill the same N cases over the last year, each with a
referral (``fill``), and add what each reads besides; bench/reminder_sweep.py loads rows of its
own through ``load``. Bulk rows go in with INSERT ... SELECT generate_series (seconds, not hours).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]


def ensure_database(url: str, rebuild: bool) -> bool:
    """Create the bench database if missing; True when it must be filled."""
    from slrt.config import _normalize_db_url

    base, name = _normalize_db_url(url).rsplit("/", 1)
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if exists and rebuild:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
            exists = False
        if not exists:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return not exists


def bench_app(url: str, key_name: str, rebuild: bool, **config):
    """(app on the bench database, whether it must be filled); the PII key is kept beside the data."""
    os.environ["DATABASE_URL"] = url
    must_fill = ensure_database(url, rebuild)
    from app import create_app
    from slrt.pii import new_key

    key_file = ROOT / "instance" / key_name
    key_file.parent.mkdir(exist_ok=True)
    if must_fill or not key_file.exists():
        key_file.write_text(new_key())
    app = create_app({"SLRT_PII_KEY": key_file.read_text().strip(), "SECRET_KEY": "bench",
                      "SLRT_PASSWORD_HASH": "plaintext", **config})
    return app, must_fill


#: Family names of the bench residents ("Warga 12345 Riyanto"): a one-word search finds about one in fifty.
SURNAMES = [
    "Riyanto", "Widodo", "Susanto", "Lestari", "Rahayu", "Wibowo", "Setiawan", "Purnomo", "Hartono",
    "Santoso", "Suryani", "Wahyuni", "Kusuma", "Pratama", "Saputra", "Handayani", "Utomo", "Nugroho",
    "Prasetyo", "Hidayat", "Kurniawan", "Sulistyo", "Yulianti", "Wulandari", "Anggraini", "Permana",
    "Gunawan", "Hermawan", "Suparman", "Sutrisno", "Supriyadi", "Haryanto", "Rahmawati", "Sugiarto",
    "Sumarno", "Mulyani", "Suwarno", "Budiman", "Sudarsono", "Fitriani", "Maryati", "Sutopo", "Wijaya",
    "Darmawan", "Iskandar", "Sukardi", "Suyanto", "Jumadi", "Tukiran", "Sarmini",
]


def residents_sql(count: int, created_at: str = "now()") -> str:
    """``count`` residents spread over the demo's villages: placeholder ciphertext (lists show only the mask)."""
    surnames = "ARRAY[" + ",".join(f"'{name}'" for name in SURNAMES) + "]"
    # Spread by a hash of the number, not the number itself: a family name tied to g % 50 would tie it
    # to the case's day (g % 365) too, and a search would find none of a name on some days.
    name = f"'Warga ' || g || ' ' || ({surnames})[1 + abs(hashtext(g::text)) % {len(SURNAMES)}]"
    return f"""INSERT INTO resident (nik_encrypted, nik_hash, nik_masked, name, sex, birth_date,
                village_id, address, phone, phone_owner, is_sms_opted_out, language, created_at)
            SELECT 'bench', md5('nik' || g), '3316********' || lpad((g % 10000)::text, 4, '0'),
                   {name}, CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
                   DATE '1950-01-01' + (g % 20000), v.id, 'RT ' || (g % 9 + 1),
                   '+62813' || lpad(g::text, 8, '0'), 'own', false, 'id', {created_at}
            FROM generate_series(1, {count}) g,
                 LATERAL (SELECT (ARRAY(SELECT id FROM region WHERE level = 'village' ORDER BY id))
                          [1 + g % 10] AS id) v"""


def cases_sql(count: int, residents: int, *, first_ticket: int, status: str, opened_at: str) -> str:
    """``count`` walk-in cases of the bench residents, spread over the Puskesos units.

    Tickets run from ``first_ticket + 1``; ``status`` and ``opened_at`` are SQL expressions of ``g``
    (the case's number).
    """
    return f"""INSERT INTO "case" (ticket, resident_id, unit_id, channel, summary, urgency, status, opened_by_id,
                    opened_at, version)
                SELECT ({first_ticket} + g)::text, r.id, u.id, 'walk_in', 'Keluhan warga nomor ' || g, 'normal',
                       {status}, (SELECT min(id) FROM staff), {opened_at}, 1
                FROM generate_series(1, {count}) g,
                     (SELECT min(id) AS first FROM resident WHERE nik_encrypted = 'bench') b,
                     (SELECT ARRAY(SELECT id FROM unit WHERE kind = 'puskesos' ORDER BY id) AS ids) p,
                     LATERAL (SELECT b.first + g % {residents} AS id) r,
                     LATERAL (SELECT p.ids[1 + g % array_length(p.ids, 1)] AS id) u"""


#: The words of the bench residents' names (their names are plain words and digits, one space apart).
NAME_WORDS_SQL = """INSERT INTO resident_name_word (word, resident_id)
    SELECT DISTINCT w.word, r.id FROM resident r, regexp_split_to_table(lower(r.name), ' ') AS w(word)
    WHERE r.nik_encrypted = 'bench'"""

#: One referral per bench case (7-digit tickets), in every state; completed ones after 1 to 20 days.
REFERRALS_SQL = """INSERT INTO referral (code, case_id, service_id, agency_id, status, due_at, documents_checked,
                    created_by_id, sent_at, completed_at, reopened_count, reminders_sent, escalation_rung,
                    resident_verification, version)
               SELECT (80000000 + c.id)::text, c.id, s.id, s.default_agency_id, st.status,
                      c.opened_at + interval '7 days', '[]', c.opened_by_id, c.opened_at,
                      CASE WHEN st.status = 'completed' THEN c.opened_at + (1 + c.id % 20) * interval '1 day' END,
                      0, 0, 0, 'not_asked', 1
               FROM "case" c,
                    (SELECT ARRAY(SELECT id FROM service WHERE default_agency_id IS NOT NULL ORDER BY id) AS ids) a,
                    LATERAL (SELECT id, default_agency_id FROM service
                             WHERE id = a.ids[1 + c.id % array_length(a.ids, 1)]) s,
                    LATERAL (SELECT (ARRAY['sent','accepted','completed','rejected','cancelled'])[1 + c.id % 5]
                             AS status) st
               WHERE c.ticket LIKE '9%' AND length(c.ticket) = 7"""


def load(app, statements: list[str], what: str) -> None:
    """Migrate, seed the demo district, then run ``statements`` in one transaction and ANALYZE."""
    from flask_migrate import upgrade

    from slrt import demo
    from slrt.extensions import db

    with app.app_context():
        upgrade()
        demo.seed(residents=40, random_seed=1)
        db.session.commit()
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement.replace("%", "%%"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"filled {what} in {time.perf_counter() - started:.0f} s", flush=True)


def fill(app, cases: int, *more: str) -> None:
    """The demo district plus ``cases`` cases over the last year, each with a referral, then ``more`` statements."""
    residents = max(cases // 4, 1)
    load(app, [
        residents_sql(residents),
        cases_sql(cases, residents, first_ticket=9000000,
                  status="(ARRAY['open','in_progress','resolved','closed','cancelled'])[1 + g % 5]",
                  opened_at="now() - (g % 365) * interval '1 day'"),
        REFERRALS_SQL,
        *more,
    ], f"{cases} cases")
