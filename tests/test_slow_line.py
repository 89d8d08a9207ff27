"""The case list and a case page on the slow office line (300 ms, 50 KiB/s, CPU / 4), in Chromium.

A back-office clerk opens each with an empty cache, then again with what the first visit kept.
The timings are printed (bench/slow_line.py has the medians of several loads), not asserted; the
test checks what makes them: every static file arrives compressed and is kept a year, a page
seen before costs one request (the page itself, compressed), no favicon or font is asked for,
and the sign-in page has the staff pages' files fetched while the clerk types.
"""

from __future__ import annotations

import pytest

from fakes.slow_line import CPU_SLOWDOWN, LATENCY_MS, THROUGHPUT, SlowLine, sign_in
from slrt.extensions import db
from tests.live import live_app, need_chromium, serving

CLERK, PASSWORD = "backoffice", "demo-backoffice-2026"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on the demo district, and the paths of the requests it answered."""
    need_chromium()
    app = live_app(tmp_path_factory.mktemp("slow"), "slow-line", SLRT_SMS_DISPATCH=False)
    with app.app_context():
        from slrt import demo

        demo.seed(residents=40, random_seed=13)
        db.session.commit()
    answered: list[str] = []
    wsgi = app.wsgi_app

    def counting(environ, start_response):
        answered.append(environ["PATH_INFO"])
        return wsgi(environ, start_response)

    app.wsgi_app = counting
    with serving(app) as url:
        yield url, answered


def _context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    violations: list[str] = []
    context.on("console", lambda message: violations.append(message.text)
               if "Content Security Policy" in message.text else None)
    return context, violations


def _watch_static(line: SlowLine) -> list:
    """The static files' responses the page receives (from the server or from the cache: look at a cold one)."""
    responses: list = []
    line.page.on("response", lambda response: responses.append(response) if "/static/" in response.url else None)
    return responses


def _report(capsys, name: str, cold, warm) -> None:
    with capsys.disabled():  # the figures show in every run, not only with -s
        print(f"\n{name}: cold {cold.seconds:.2f} s, {len(cold.requests)} requests, "
              f"{cold.received_bytes / 1024:.1f} KiB; warm {warm.seconds:.2f} s, {len(warm.requests)} request, "
              f"{warm.received_bytes / 1024:.1f} KiB (latency {LATENCY_MS} ms, {THROUGHPUT // 1024} KiB/s, "
              f"CPU / {CPU_SLOWDOWN})")


def _check_static(responses: list) -> None:
    assert responses, "no static file was fetched"
    for response in responses:
        headers = response.headers
        assert response.status == 200, response.url
        assert headers["cache-control"] == "public, max-age=31536000, immutable", response.url
        assert "?v=" in response.url, response.url
        assert "set-cookie" not in headers and "cookie" not in headers.get("vary", "").lower(), response.url
        if response.url.split("?")[0].endswith((".css", ".js")):
            assert headers.get("content-encoding") == "br", response.url


def test_case_list_and_case_page_on_a_slow_line(server, browser, capsys):
    base, answered = server

    # The case list with an empty cache, then again after a case page.
    context, violations = _context(browser)
    sign_in(context, base, CLERK, PASSWORD)
    line = SlowLine(context)
    static = _watch_static(line)
    answered.clear()
    cold_list = line.load(f"{base}/admin/case/")
    paths = list(answered)
    assert paths[0] == "/admin/case/"
    assert "/favicon.ico" not in paths
    assert not any(path.endswith((".woff", ".woff2", ".ttf", "font-awesome.min.css")) for path in paths)
    assert sum("bootstrap.min.css" in path for path in paths) == 1  # once, not twice under two names
    assert len(paths) == len(set(paths)) == len(cold_list.requests)
    _check_static(static)
    case_url = base + line.page.locator("a[href*='/admin/case/details/']").first.get_attribute("href")
    # The icons are drawn (no icon font): the row's eye has a size and a shape.
    eye = line.page.locator(".fa-eye").first
    assert eye.bounding_box()["width"] > 0
    assert eye.evaluate("e => getComputedStyle(e).maskImage || getComputedStyle(e).webkitMaskImage") \
        .startswith('url("data:image/svg+xml')

    line.load(case_url)
    answered.clear()
    warm_list = line.load(f"{base}/admin/case/")
    assert answered == ["/admin/case/"]
    assert len(warm_list.requests) == 1
    document = line.page.evaluate("() => performance.getEntriesByType('navigation')[0].contentEncoding")
    assert document == "br"
    # The menus still open (Bootstrap's dropdown, without Flask-Admin's older copies of it).
    line.page.locator("nav .dropdown-toggle").first.click()
    line.page.wait_for_selector("nav .dropdown-menu.show")
    answered.clear()
    warm_case = line.load(case_url)
    assert answered == ["/admin/case/details/"]
    assert violations == [], violations
    context.close()

    # A case page with an empty cache: the page and the files every page loads, no list widgets.
    context, violations = _context(browser)
    sign_in(context, base, CLERK, PASSWORD)
    line = SlowLine(context)
    static = _watch_static(line)
    answered.clear()
    cold_case = line.load(case_url)
    assert answered[0] == "/admin/case/details/"
    assert not any("select2" in path or "moment" in path or "daterangepicker" in path for path in answered)
    _check_static(static)
    assert violations == [], violations
    context.close()

    _report(capsys, "case list", cold_list, warm_list)
    _report(capsys, "case page", cold_case, warm_case)


def test_the_sign_in_page_fetches_the_staff_pages_files_while_the_clerk_types(server, browser, capsys):
    base, answered = server
    context, violations = _context(browser)
    line = SlowLine(context)
    page = line.page
    page.goto(f"{base}/login")
    # The prefetches land while the fields are filled in (here: until every one has arrived).
    page.wait_for_function("""() => {
        const done = new Set(performance.getEntriesByType('resource').filter(e => e.responseEnd > 0).map(e => e.name));
        return [...document.querySelectorAll('link[rel=prefetch]')].every(link => done.has(link.href));
    }""", timeout=60_000)
    page.fill("#username", CLERK)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    answered.clear()
    first_list = line.load(f"{base}/admin/case/")
    assert answered == ["/admin/case/"], answered
    with capsys.disabled():
        print(f"\ncase list right after signing in: {first_list.seconds:.2f} s, {len(answered)} request")
    assert violations == [], violations
    context.close()
