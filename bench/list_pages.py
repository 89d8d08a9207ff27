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
sys.path.insert(0, str(ROOT / "bench"))

from _fill import NAME_WORDS_SQL, bench_app, fill  # noqa: E402  (the benches' shared fill)

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench")


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
    """Median milliseconds to the whole answer (a CSV streams: read to its end) and SQL statements per run."""
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
        body = response.get_data()
        response.close()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and body, (url, response.status_code)
    return statistics.median(timings), len(counted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    app, must_fill = bench_app(URL, "bench-pii.key", args.rebuild)
    if must_fill:
        fill(app, args.cases, NAME_WORDS_SQL)
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
