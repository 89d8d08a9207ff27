"""Staff list pages over a million cases on PostgreSQL: time per page and SQL statements per page.

Builds (once) a database ``slrt_bench`` with the demo district plus N cases, each with a
referral, spread over the Puskesos units, then signs in as a supervisor (whole district)
and as a Puskesos clerk and times the pages a clerk opens all day. Prints medians of
several runs with the SQL statements each page ran and, last, one summary line:

    list_pages cases=<n> case_list_ms=<ms> ... deep_page_ratio=<r> dashboard_ms=<ms> max_queries=<n>

(deep_page_ratio: page 500 of the case list over its first page; max_queries: the most
statements any list page ran.) Searches go as the screen sends them: the term posted to the
list's search form, the list then opened at the ``?search=~token`` address it redirects to.

Usage: .venv/bin/python bench/list_pages.py [--cases 1000000] [--rebuild]
Needs PostgreSQL at BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/slrt_bench).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench")


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
    return f"""INSERT INTO resident (nik_encrypted, nik_hash, nik_masked, name, name_key, sex, birth_date,
                village_id, address, phone, phone_owner, is_sms_opted_out, language, created_at)
            SELECT 'bench', md5('nik' || g), '3316********' || lpad((g % 10000)::text, 4, '0'),
                   {name}, lower({name}), CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
                   DATE '1950-01-01' + (g % 20000), v.id, 'RT ' || (g % 9 + 1),
                   '+62813' || lpad(g::text, 8, '0'), 'own', false, 'id', {created_at}
            FROM generate_series(1, {count}) g,
                 LATERAL (SELECT (ARRAY(SELECT id FROM region WHERE level = 'village' ORDER BY id))
                          [1 + g % 10] AS id) v"""


#: The words of the bench residents' names (their names are plain words and digits, one space apart).
NAME_WORDS_SQL = """INSERT INTO resident_name_word (word, resident_id)
    SELECT DISTINCT w.word, r.id FROM resident r, regexp_split_to_table(r.name_key, ' ') AS w(word)
    WHERE r.nik_encrypted = 'bench'"""


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


def fill(app, cases: int) -> None:
    """Demo district, then bulk rows with INSERT ... SELECT generate_series (seconds, not hours)."""
    from flask_migrate import upgrade

    from slrt import demo
    from slrt.extensions import db

    with app.app_context():
        upgrade()
        demo.seed(residents=40, random_seed=1)
        db.session.commit()
        residents = max(cases // 4, 1)
        started = time.perf_counter()
        sql = [
            # residents: placeholder ciphertext (lists show only the masked form)
            residents_sql(residents),
            NAME_WORDS_SQL,
            f"""INSERT INTO "case" (ticket, resident_id, unit_id, channel, summary, urgency, status, opened_by_id,
                    opened_at, version)
                SELECT (9000000 + g)::text, r.id, u.id, 'walk_in', 'Keluhan warga nomor ' || g, 'normal',
                       (ARRAY['open','in_progress','resolved','closed','cancelled'])[1 + g % 5],
                       (SELECT min(id) FROM staff), now() - (g % 365) * interval '1 day', 1
                FROM generate_series(1, {cases}) g,
                     (SELECT min(id) AS first FROM resident WHERE nik_encrypted = 'bench') b,
                     (SELECT ARRAY(SELECT id FROM unit WHERE kind = 'puskesos' ORDER BY id) AS ids) p,
                     LATERAL (SELECT b.first + g % {residents} AS id) r,
                     LATERAL (SELECT p.ids[1 + g % array_length(p.ids, 1)] AS id) u""",
            """INSERT INTO referral (code, case_id, service_id, agency_id, status, due_at, documents_checked,
                    created_by_id, sent_at, reopened_count, reminders_sent, escalation_rung,
                    resident_verification, version)
               SELECT (80000000 + c.id)::text, c.id, s.id, s.default_agency_id,
                      (ARRAY['sent','accepted','completed','rejected','cancelled'])[1 + c.id % 5],
                      c.opened_at + interval '7 days', '[]', c.opened_by_id, c.opened_at, 0, 0, 0,
                      'not_asked', 1
               FROM "case" c,
                    (SELECT ARRAY(SELECT id FROM service WHERE default_agency_id IS NOT NULL ORDER BY id) AS ids) a,
                    LATERAL (SELECT id, default_agency_id FROM service
                             WHERE id = a.ids[1 + c.id % array_length(a.ids, 1)]) s
               WHERE c.ticket LIKE '9%' AND length(c.ticket) = 7""",
            "ANALYZE",
        ]
        with db.engine.begin() as conn:
            for statement in sql:
                conn.exec_driver_sql(statement.replace("%", "%%"))
        print(f"filled {cases} cases in {time.perf_counter() - started:.0f} s", flush=True)


def sign_in(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": f"demo-{username}-2026", "csrf_token": token})
    assert client.get("/admin/").status_code == 200, "sign-in failed"
    return client


class Search(NamedTuple):
    """A search a page of the bench opens: ``term`` typed into the list at ``list_url``."""

    list_url: str
    term: str


def search_url(client, list_url: str, term: str) -> str:
    """Post ``term`` to the list's search box, as the screen does; the list's address with its token."""
    page = client.get(list_url).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(f"{list_url}search/", data={"search": term, "csrf_token": token})
    assert response.status_code == 302 and "search=~" in response.headers["Location"], (list_url, term)
    return response.headers["Location"]


def measure(app, client, url: str, runs: int = 7) -> tuple[float, int]:
    from slrt.extensions import db

    with app.app_context():
        engine = db.engine
    counted: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: counted.append(a[2]))
    timings = []
    for _ in range(runs):
        counted.clear()
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings), len(counted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    app, must_fill = bench_app(URL, "bench-pii.key", args.rebuild)
    if must_fill:
        fill(app, args.cases)
    with app.app_context():
        from slrt.extensions import db

        total = db.session.execute(sa.text('SELECT count(*) FROM "case"')).scalar()
    supervisor, clerk = sign_in(app, "supervisor"), sign_in(app, "frontoffice")
    from admin_views.referrals import OverdueFilter

    referral_view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "referral")
    overdue = next(i for i, f in enumerate(referral_view._filters) if isinstance(f, OverdueFilter))
    pages = [
        ("case_list", supervisor, "/admin/case/"),
        ("case_list_page_100", supervisor, "/admin/case/?page=99"),
        ("case_list_page_500", supervisor, "/admin/case/?page=499"),
        ("puskesos_case_list", clerk, "/admin/case/"),
        ("puskesos_case_list_page_500", clerk, "/admin/case/?page=499"),
        ("case_search_ticket", supervisor, Search("/admin/case/", "9012345")),
        ("case_search_name", supervisor, Search("/admin/case/", "warga 12345")),
        ("case_search_one_word", supervisor, Search("/admin/case/", "riyanto")),
        ("case_search_word_start", clerk, Search("/admin/case/", "Sutri")),
        ("referral_list", supervisor, "/admin/referral/"),
        ("referral_overdue", supervisor, f"/admin/referral/?flt1_{overdue}=1"),
        ("referral_search_name", supervisor, Search("/admin/referral/", "riyanto")),
        ("referral_search_agency", supervisor, Search("/admin/referral/", "baznas")),
        ("resident_search_phone", supervisor, Search("/admin/resident/", "081300012345")),
        ("resident_search_name", supervisor, Search("/admin/resident/", "warga 1234")),
        ("household_list", supervisor, "/admin/household/"),
        ("service_list", supervisor, "/admin/service/"),
        ("agency_contact_list", supervisor, "/admin/agency_contact/"),
        ("dashboard", supervisor, "/admin/"),
        ("puskesos_dashboard", clerk, "/admin/"),
    ]
    results = {}
    for name, client, url in pages:
        if isinstance(url, Search):  # posted right before: a session keeps its last few searches only
            url = search_url(client, url.list_url, url.term)
        ms, queries = measure(app, client, url)
        results[name] = (ms, queries)
        print(f"{name:<24} {ms:8.1f} ms  {queries:3d} SQL statements  {url}", flush=True)
    lists = [name for name in results if "dashboard" not in name]
    summary = " ".join(f"{name}_ms={ms:.0f}" for name, (ms, _q) in results.items() if name in lists)
    deep_ratio = results["case_list_page_500"][0] / results["case_list"][0]
    print(f"name_word_search cases={total} case_search_one_word_ms={results['case_search_one_word'][0]:.0f}"
          f" referral_search_name_ms={results['referral_search_name'][0]:.0f}", flush=True)
    print(f"list_pages cases={total} {summary} deep_page_ratio={deep_ratio:.2f}"
          f" dashboard_ms={results['dashboard'][0]:.0f} max_queries={max(results[n][1] for n in lists)}")


if __name__ == "__main__":
    main()
