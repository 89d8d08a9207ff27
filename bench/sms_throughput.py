"""SMS throughput: N notices through Celery workers to a Twilio-speaking server with 100 ms latency.

Runs the production path on one host: a burst of notices committed in one transaction by
the app (the commit queues their send tasks on Redis), worker processes with threads claiming, sending through the
real twilio client and recording, and a local server speaking Twilio's Messages API
(fakes.twilio.FakeTwilio) that answers each create after ``--latency`` seconds (status
callbacks off: they are not on the path measured). The database is PostgreSQL when it
answers (a fresh ``slrt_bench_sms``), else SQLite.

Two runs side by side: unthrottled, then with the cluster rate limit at ``--limit`` R
(shared through Redis). Each prints messages per second, p50/p95 from commit to the
provider's acceptance, the busiest one-second window, lost and duplicated, and ends with

    sms_throughput rate=<msg/s> limit=<R> p50_ms=<n> p95_ms=<n> lost=<n> duplicated=<n> single_p50_ms=<n>
        embedded_single_p50_ms=<n>

(limit=0 for the unthrottled run; the last line is the limited run). ``single_p50_ms`` is
the latency of one notice at rest: 20 notices committed one by one, each inside a
SAVEPOINT as the domain functions write them and committed 50 ms later (``--gap-ms``, the
rest of a request), no beat running (so only the task queued at
the commit can send it); ``embedded_single_p50_ms`` the same on the embedded default
(SQLite database and SQLite-backed broker). ``--pin`` gives the
workers one core of their own and everything else the others, to measure what a worker
host does per core when the database, broker and provider live elsewhere.

Usage: .venv/bin/python bench/sms_throughput.py [--messages 3000] [--limit 100] [--workers 2] [--threads 32]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fakes.pipeline import Pipeline, wait_for  # noqa: E402
from slrt import outbox  # noqa: E402
from slrt.config import _normalize_db_url  # noqa: E402
from slrt.extensions import begin_write, db  # noqa: E402
from slrt.models import Case  # noqa: E402
from slrt.models.enums import SmsAudience  # noqa: E402

PG = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench_sms")


def fresh_postgres(url: str) -> str | None:
    """Drop and create the bench database; None when PostgreSQL does not answer."""
    base, name = _normalize_db_url(url).rsplit("/", 1)
    try:
        admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except sa.exc.OperationalError:
        return None
    return url


def busiest_second(times: list[float]) -> int:
    """Most acceptances in any one-second window (sliding, not aligned to whole seconds)."""
    times = sorted(times)
    return max((bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def pin(pipeline) -> None:
    """Give the worker processes (and their threads) the last CPU and everything else the rest."""
    cpus = sorted(os.sched_getaffinity(0))
    mine, rest = {cpus[-1]}, set(cpus[:-1]) or {cpus[0]}
    workers = {proc.pid for name, proc in pipeline.procs.items() if name.startswith("worker")}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            command = (pid_dir / "cmdline").read_bytes()
            tasks = [int(t.name) for t in (pid_dir / "task").iterdir()]
        except OSError:
            continue
        pid = int(pid_dir.name)
        target = mine if pid in workers else rest
        if pid in workers or b"postgres" in command or b"redis-server" in command or pid == os.getpid():
            for tid in tasks:
                with contextlib.suppress(OSError):  # a thread that ended meanwhile
                    os.sched_setaffinity(tid, target)


def run(pipeline, count: int, limit: float) -> dict:
    """Commit ``count`` notices in one transaction (a burst); wait until all are accepted; measure."""
    pipeline.fake.clear()
    workers = [proc.pid for name, proc in pipeline.procs.items() if name.startswith("worker")]
    cpu_before = cpu_seconds(workers)
    stamp: dict[str, float] = {}
    ids = pipeline.queue_notices(count, stamp=stamp)
    started = stamp["commit"]
    committed = {message_id: started for message_id in ids}
    wait_for(lambda: pipeline.fake.accepted_count() >= count, 60 + count / max(limit or 100, 1) * 2,
             f"{count} messages accepted", pipeline.diagnosis)
    cpu_used = cpu_seconds(workers) - cpu_before
    time.sleep(1.0)  # anything sent twice would arrive now
    accepted: dict[int, list[float]] = {}
    for message in pipeline.fake.messages:
        message_id = int((message.status_callback or "/0").rsplit("/", 1)[1])
        if message_id in committed:
            accepted.setdefault(message_id, []).append(message.accepted_wall)
    firsts = [min(times) for times in accepted.values()]
    latencies = sorted((min(times) - committed[mid]) * 1000 for mid, times in accepted.items())
    span = max(firsts) - started
    return {
        "rate": len(firsts) / span,
        "limit": limit,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "lost": count - len(accepted),
        "duplicated": sum(len(times) - 1 for times in accepted.values()),
        "busiest_second": busiest_second(firsts),
        "span_s": span,
        "worker_cpu_ms": cpu_used * 1000 / count,
    }


def single(pipeline, count: int = 20, gap: float = 0.05) -> float:
    """Median ms from commit to the provider's acceptance of one notice committed at rest.

    Each notice is written as the domain functions write theirs: inside a SAVEPOINT, then
    ``gap`` seconds more work in the same transaction (the rest of a request: another
    domain call, the audit, the page), then the commit; one at a time, the next after the
    last was accepted. No beat runs, so only the task queued at the commit can carry it.
    """
    latencies = []
    with pipeline.app.app_context():
        case = db.session.query(Case).first()
        context = outbox.common_context(case)
        db.session.remove()
    for n in range(count):
        before = pipeline.fake.accepted_count()
        with pipeline.app.app_context():
            begin_write()
            case = db.session.query(Case).first()
            with db.session.begin_nested():
                outbox.queue(audience=SmsAudience.RESIDENT, phone=f"+62813{n:08d}", key="case_registered",
                             language="id", context=context, dedupe_key=f"single:{time.time_ns()}:{n}",
                             resident=case.resident, case=case)
            time.sleep(gap)
            committed = time.time()
            db.session.commit()
            db.session.remove()
        wait_for(lambda before=before: pipeline.fake.accepted_count() > before, 75,
                 "a single notice accepted", pipeline.diagnosis)
        latencies.append((pipeline.fake.messages[-1].accepted_wall - committed) * 1000)
        time.sleep(0.2)  # at rest: the workers idle again before the next one
    return statistics.median(latencies)


def single_on_embedded(latency: float, count: int = 20, beat: bool = False, gap: float = 0.05) -> float:
    """The same on the embedded default: SQLite database and SQLite-backed broker, one worker."""
    workdir = Path(tempfile.mkdtemp(prefix="sms-bench-embedded-"))
    sweep = "30" if beat else "3600"
    with Pipeline(workdir, broker="sqlite", settings={"SLRT_SWEEP_SECONDS": sweep}) as pipeline:
        pipeline.fake.latency = latency
        pipeline.fake.callbacks_enabled = False
        pipeline.worker("worker-0", concurrency=4)
        if beat:
            pipeline.beat()
        pipeline.queue_notices(2)  # warm-up
        wait_for(lambda: pipeline.fake.accepted_count() >= 2, 120, "warm-up", pipeline.diagnosis)
        return single(pipeline, count, gap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--limit", type=float, default=100.0, help="rate limit R for the second run (msg/s)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=32, help="threads per worker process")
    parser.add_argument("--latency", type=float, default=0.1, help="provider latency per create (s)")
    parser.add_argument("--sqlite", action="store_true", help="use SQLite even if PostgreSQL answers")
    parser.add_argument("--single", type=int, default=20, help="notices committed one by one for single_p50_ms")
    parser.add_argument("--gap-ms", type=float, default=50.0,
                        help="work in the same transaction between the notice's SAVEPOINT and the commit (ms)")
    parser.add_argument("--beat", action="store_true",
                        help="also run beat with the default 30 s sweep (single_p50_ms then has a fallback)")
    parser.add_argument("--pin", action="store_true",
                        help="workers on the last CPU, everything else (database, Redis, provider, producer) "
                             "on the others: what the workers alone do with one core")
    args = parser.parse_args()

    database = None if args.sqlite else fresh_postgres(PG)
    results = []
    for limit in ((0.0, args.limit) if args.limit else (0.0,)):
        workdir = Path(tempfile.mkdtemp(prefix="sms-bench-"))
        if database:
            fresh_postgres(database)
        settings = {"SLRT_SMS_RATE": str(limit), "SLRT_DB_POOL_SIZE": str(args.threads + 4),
                    "SLRT_SWEEP_SECONDS": "30", "SLRT_SMS_TIMEOUT": "10", "SLRT_SMS_CLAIM_LEASE_SECONDS": "60"}
        with Pipeline(workdir, database_url=database, settings=settings) as pipeline:
            pipeline.fake.latency = args.latency
            pipeline.fake.callbacks_enabled = False
            for n in range(args.workers):
                pipeline.worker(f"worker-{n}", concurrency=args.threads)
            if args.beat:
                pipeline.beat()
            if args.pin:
                pin(pipeline)
            # Warm-up: workers connected, pools filled, code paths loaded; then measure.
            pipeline.queue_notices(args.workers * args.threads)
            wait_for(lambda: pipeline.fake.accepted_count() >= args.workers * args.threads, 90, "warm-up",
                     pipeline.diagnosis)
            result = run(pipeline, args.messages, limit)
            result["single_p50_ms"] = single(pipeline, args.single, args.gap_ms / 1000)
        result["database"] = "postgresql" if database else "sqlite"
        results.append(result)
        print(f"# {'unthrottled' if not limit else f'limit {limit:g}/s'}: {args.messages} messages, "
              f"{args.workers} workers x {args.threads} threads, {args.latency * 1000:.0f} ms provider latency, "
              f"{result['database']}, Redis broker: {result['rate']:.1f} msg/s over {result['span_s']:.1f} s, "
              f"busiest second {result['busiest_second']}"
              + (f" ({result['busiest_second'] / limit:.2f} R), rate {result['rate'] / limit:.1%} of R"
                 if limit else "")
              + f", worker CPU {result['worker_cpu_ms']:.1f} ms/message", flush=True)
    embedded = single_on_embedded(args.latency, args.single, args.beat, args.gap_ms / 1000)
    print(f"# single notice at rest (commit to acceptance, median of {args.single}, "
          f"{args.gap_ms:g} ms between the SAVEPOINT and the commit, {'beat' if args.beat else 'no beat'}): "
          f"Redis broker {results[-1]['single_p50_ms']:.0f} ms, embedded SQLite broker {embedded:.0f} ms", flush=True)
    for result in results:
        print(f"sms_throughput rate={result['rate']:.1f} limit={result['limit']:g} p50_ms={result['p50_ms']:.0f} "
              f"p95_ms={result['p95_ms']:.0f} lost={result['lost']} duplicated={result['duplicated']} "
              f"single_p50_ms={result['single_p50_ms']:.0f} embedded_single_p50_ms={embedded:.0f}")


if __name__ == "__main__":
    main()
