"""The SMS pipeline under faults: real worker and beat processes, a real redis-server broker
(the test's own, on a spare port), the real twilio client against a local Twilio-speaking
server, signed status callbacks into the app's webhooks. Nothing lost, nothing sent twice.

On SQLite by default; with TEST_DATABASE_URL, on a PostgreSQL database of the pipeline's own
on that server, where workers really race for the same rows (row locks, SKIP LOCKED).
"""

from __future__ import annotations

import os
import time

import pytest
import requests

from fakes.pipeline import Pipeline, wait_for
from slrt.extensions import db

pytestmark = pytest.mark.slow


@pytest.fixture
def pipeline(tmp_path, pipeline_database):
    with Pipeline(tmp_path, database_url=pipeline_database) as running:
        yield running


def test_the_pipeline_runs_on_the_database_the_suite_runs_on(pipeline):
    assert pipeline.env["DATABASE_URL"] == pipeline.database_url  # what the workers and beats use
    with pipeline.app.app_context():
        assert db.engine.dialect.name == ("postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite")


def _exactly_once(pipeline: Pipeline, count: int) -> None:
    """Every notice out, each accepted by the provider once, each row holding its provider id."""
    rows = pipeline.rows()
    assert len(rows) == count
    assert {status for _id, status, _a, _p in rows} <= {"sent", "delivered"}, pipeline.diagnosis()
    assert pipeline.fake.duplicates() == {}
    ours = {provider for _id, _s, _a, provider in rows}
    ids = {f"/sms/twilio/status/{message_id}" for message_id, _s, _a, _p in rows}
    theirs = {m.sid for m in pipeline.fake.messages if (m.status_callback or "").endswith(tuple(ids))}
    assert ours == theirs and len(theirs) == count


def test_a_burst_of_1000_with_two_beats_messy_callbacks_and_missing_receipts(pipeline):
    """1,000 notices through Redis: 900 queued at commit, 100 left to the sweeps; two beats started,
    one of them by mistake (it stands by); callbacks duplicated and out of order; 30 % of receipts
    never come."""
    fake = pipeline.fake
    fake.duplicate_callbacks = fake.reorder_callbacks = True
    fake.drop_receipts = 0.3
    pipeline.worker()
    pipeline.beat("beat-1")
    pipeline.beat("beat-2")  # by mistake: it must schedule nothing
    pipeline.queue_notices(900)
    pipeline.queue_notices(100, dispatch=False)
    wait_for(lambda: pipeline.all_out(1000), 180, "1,000 notices out", pipeline.diagnosis)
    pipeline.settle()  # callbacks drained; a few more sweeps: nothing more may go out
    _exactly_once(pipeline, 1000)
    assert fake.accepted_count() == 1000 + 1  # + the case's own registration notice
    counts = pipeline.statuses()
    assert 600 <= counts.get("delivered", 0) <= 800, counts  # ~70 % receipts; a late "sent" undid none
    assert counts.get("sent", 0) == 1000 - counts.get("delivered", 0)  # no receipt: left as sent, not resent
    logs = [pipeline.log("beat-1"), pipeline.log("beat-2")]
    scheduling = [log for log in logs if "Sending due task sweep-outbox" in log]
    standing_by = [log for log in logs if "this beat is standing by and schedules nothing" in log]
    assert len(scheduling) == 1 and len(standing_by) == 1 and scheduling != standing_by, logs

    # A forged callback at the live webhook is refused and changes nothing.
    message_id = pipeline.rows()[0][0]
    forged = requests.post(f"{pipeline.public_url}/sms/twilio/status/{message_id}",
                           data={"MessageSid": "SMforged", "MessageStatus": "failed", "ErrorCode": "30005"},
                           headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, timeout=5)
    assert forged.status_code == 403
    assert pipeline.statuses() == counts


def test_a_worker_killed_mid_burst_loses_nothing_and_doubles_nothing(pipeline):
    fake = pipeline.fake
    fake.latency = 0.05  # sends in flight when the worker dies
    pipeline.worker("worker-1")
    pipeline.beat()
    pipeline.queue_notices(400)
    wait_for(lambda: fake.accepted_count() > 120, 60, "the burst under way", pipeline.diagnosis)
    pipeline.kill("worker-1")  # SIGKILL: claimed rows, unacknowledged tasks, sends in flight
    killed_at = fake.accepted_count()
    assert killed_at < 401, "the burst ended before the kill; slow the fake down"
    pipeline.worker("worker-2")
    wait_for(lambda: pipeline.all_out(400), 180, "400 notices out after the restart", pipeline.diagnosis)
    time.sleep(2)
    _exactly_once(pipeline, 400)


def test_the_broker_down_while_cases_are_saved_then_up_again(pipeline):
    pipeline.redis.stop()
    started = time.monotonic()
    pipeline.queue_notices(150)  # committed; queuing their tasks fails: the rows wait
    assert time.monotonic() - started < 60  # saving is not held up for long by a dead broker
    assert pipeline.statuses() == {"pending": 150}
    pipeline.redis.start()
    pipeline.worker()
    pipeline.beat()
    wait_for(lambda: pipeline.all_out(150), 120, "150 notices out after the broker came back", pipeline.diagnosis)
    _exactly_once(pipeline, 150)


def test_the_provider_failing_for_a_while_500_429_and_timeouts(pipeline):
    fake = pipeline.fake
    fake.retry_after = 1
    fake.hang = 3  # longer than the worker's 2 s timeout
    fake.fail_rate("500", 0.15)
    fake.fail_rate("429", 0.15)
    fake.fail_rate("timeout_after_accept", 0.1)  # accepted, but the answer never came
    fake.fail_rate("timeout", 0.05)
    pipeline.worker()
    pipeline.beat()
    pipeline.queue_notices(200)
    # The outage lasts until the workers have met it 20 times (on a loaded machine they may
    # take a while to start), and at least 6 s.
    time.sleep(6)
    wait_for(lambda: fake.failures_served >= 20, 120, "the workers to meet the outage", pipeline.diagnosis)
    fake.clear_failures()  # the provider recovers
    wait_for(lambda: pipeline.all_out(200), 180, "200 notices out after the outage", pipeline.diagnosis)
    time.sleep(2)
    _exactly_once(pipeline, 200)
    rows = pipeline.rows()
    assert any(attempts > 1 for _id, _s, attempts, _p in rows)  # there were retries


def test_the_embedded_sqlite_broker_carries_the_same_pipeline(tmp_path, pipeline_database):
    with Pipeline(tmp_path, broker="sqlite", database_url=pipeline_database) as pipeline:
        pipeline.worker(concurrency=4)
        pipeline.beat()
        pipeline.queue_notices(80)
        pipeline.queue_notices(20, dispatch=False)
        wait_for(lambda: pipeline.all_out(100, ("delivered",)), 180, "100 notices delivered", pipeline.diagnosis)
        _exactly_once(pipeline, 100)
