"""The case list and a case page on a slow office line: Chromium with its network and CPU throttled.

The line of issue 13: 300 ms latency, 50 KiB/s down and up, the CPU slowed 4x (Chrome DevTools
Protocol: Network.emulateNetworkConditions, Emulation.setCPUThrottlingRate). A back-office clerk
signs in (unthrottled, without loading a page, so the browser cache stays empty), then:

- cold: a fresh browser context (empty cache) opens the case list, another one a case page;
- warm: the same context opens the case list, a case page, then each again (the cache holds
  what the first visits kept).

Each setup runs in its own server process on the demo district (SQLite, 200 residents): this
tree with compression off and on, and with ``--before DIR`` another checkout (e.g. the main
branch before this work) for comparison. It prints one line per setup and page, with the
medians of ``--runs`` loads: seconds to the load event, requests over the line and kilobytes
received. Measured here (2 shared CPUs, --runs 5 --before on the main branch before issue 13):

    setup            page        cold_s  warm_s  cold_requests  warm_requests  cold_kb  warm_kb
    before           case_list    19.96    2.81             24             24    962.8     92.4
    before           case_page    15.16    1.46             16             16    704.8     32.5
    compress=off     case_list    14.19    1.64             19              1    662.4     64.5
    compress=off     case_page     8.05    0.74              9              1    359.5     13.5
    compress=on      case_list     3.94    0.64             19              1    142.2      5.8
    compress=on      case_page     2.63    0.59              9              1     79.4      4.2

The figures are printed, not asserted: tests/test_slow_line.py checks the behaviour (requests,
compression, cache lifetimes). Needs Debian's chromium (/usr/bin/chromium).

    .venv/bin/python bench/slow_line.py [--runs 5] [--before /work/main]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fakes.slow_line import CPU_SLOWDOWN, LATENCY_MS, THROUGHPUT, SlowLine, sign_in  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CLERK = "backoffice"
PASSWORD = "demo-backoffice-2026"


def serve(app_dir: str, workdir: str, compress: bool) -> None:
    """Run the app of ``app_dir`` on the demo district until killed; print its port first."""
    sys.path.insert(0, app_dir)
    os.chdir(app_dir)
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from app import create_app
    from slrt import demo
    from slrt.extensions import db
    from slrt.pii import new_key

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.sqlite",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{workdir}/broker.sqlite",
        "SLRT_PII_KEY": new_key(), "SECRET_KEY": "slow-line", "SLRT_PASSWORD_HASH": "plaintext",
        "SLRT_ANDROID_SIGNING_KEY": "slow-line", "SLRT_SMS_DISPATCH": False,
        "SLRT_COMPRESS": compress,  # a tree before compression ignores it
    })
    with app.app_context():
        upgrade()
        demo.seed()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


def start_server(app_dir: str, compress: bool) -> tuple[subprocess.Popen, str, str]:
    """Start a server process for one setup; return it, its address and its work folder."""
    workdir = tempfile.mkdtemp(prefix="slow-line-")
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", app_dir, "--workdir", workdir, "--compress", "on" if compress else "off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = process.stdout.readline()
    match = re.match(r"PORT (\d+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"the server for {app_dir} did not start: {line!r}")
    return process, f"http://127.0.0.1:{match.group(1)}", workdir


def case_url(context, base: str) -> str:
    """The case page the first row of the case list opens."""
    listing = context.request.get(f"{base}/admin/case/").text()
    return base + re.search(r'href="(/admin/case/details/\?id=\d+)', listing).group(1)


def measure(browser, base: str, runs: int) -> dict[str, dict[str, list[float]]]:
    """``runs`` cold and warm loads of the case list and a case page."""
    figures: dict[str, dict[str, list[float]]] = {"case_list": {}, "case_page": {}}

    def note(page: str, temperature: str, load) -> None:
        for key, value in (("s", load.seconds), ("requests", len(load.requests)), ("kb", load.received_bytes / 1024)):
            figures[page].setdefault(f"{temperature}_{key}", []).append(value)

    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
        sign_in(context, base, CLERK, PASSWORD)
        case = case_url(context, base)
        line = SlowLine(context)
        note("case_list", "cold", line.load(f"{base}/admin/case/"))
        line.load(case)
        note("case_list", "warm", line.load(f"{base}/admin/case/"))
        note("case_page", "warm", line.load(case))
        context.close()

        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
        sign_in(context, base, CLERK, PASSWORD)
        note("case_page", "cold", SlowLine(context).load(case))
        context.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="DIR", help="another checkout to measure first (no compression switch)")
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--compress", choices=("on", "off"), default="on", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.workdir, args.compress == "on")
        return

    from playwright.sync_api import sync_playwright

    setups = [("before", args.before, True)] if args.before else []
    setups += [("compress=off", str(ROOT), False), ("compress=on", str(ROOT), True)]
    print(f"slow line: latency {LATENCY_MS} ms, {THROUGHPUT // 1024} KiB/s each way, CPU / {CPU_SLOWDOWN}; "
          f"medians of {args.runs} loads")
    print(f"{'setup':16} {'page':10} {'cold_s':>7} {'warm_s':>7} {'cold_requests':>14} {'warm_requests':>14} "
          f"{'cold_kb':>8} {'warm_kb':>8}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        for name, app_dir, compress in setups:
            process, base, workdir = start_server(app_dir, compress)
            try:
                figures = measure(browser, base, args.runs)
            finally:
                process.kill()
                process.wait()
                shutil.rmtree(workdir, ignore_errors=True)
            for page, values in figures.items():
                m = {key: statistics.median(v) for key, v in values.items()}
                print(f"{name:16} {page:10} {m['cold_s']:7.2f} {m['warm_s']:7.2f} {m['cold_requests']:14.0f} "
                      f"{m['warm_requests']:14.0f} {m['cold_kb']:8.1f} {m['warm_kb']:8.1f}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
