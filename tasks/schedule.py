"""The beat schedule: one dict, one comment per entry.

One beat schedules per deployment: beat runs tasks.beat.SingleBeatScheduler, which schedules
only while it holds the beat lock; a second beat started by mistake stands by and says so.
"""

from __future__ import annotations


def beat_schedule(config) -> dict:
    """Return the beat schedule for the app's settings."""
    return {
        # Beat -> broker -> worker -> database: proves the whole background path is alive; the
        # worker that runs it records its heartbeat (each worker also records its own every
        # SLRT_HEARTBEAT_SECONDS, idle or not). The dashboard shows the latest, /readyz each one.
        "heartbeat": {"task": "slrt.heartbeat", "schedule": float(config["SLRT_HEARTBEAT_SECONDS"])},
        # Re-queue outbox messages never picked up (broker down at commit, worker killed) and
        # those whose retry time has come; retry times live in the rows, not in Celery countdowns.
        "sweep-outbox": {"task": "slrt.sweep_outbox", "schedule": float(config["SLRT_SWEEP_SECONDS"])},
        # Sent messages whose receipt is late (SLRT_RECEIPT_CHECK_MINUTES, then at growing
        # intervals): ask the provider, which knows what a lost callback would have said; past
        # SLRT_RECEIPT_HOURS, what it cannot confirm either becomes a follow-up. A run asks for at
        # most 4 minutes (slrt.outbox.RECEIPT_CHECK_BUDGET_SECONDS), so runs do not pile up.
        "reconcile-receipts": {"task": "slrt.reconcile_receipts", "schedule": 300.0},
        # Resident notices with no delivery receipt in SLRT_RECEIPT_HOURS on a gateway nobody can
        # ask (no longer configured): a follow-up each.
        "check-receipts": {"task": "slrt.check_receipts", "schedule": 300.0},
        # Erase SMS texts older than SLRT_SMS_RETENTION_DAYS (personal data kept no longer).
        "purge-sms-bodies": {"task": "slrt.purge_sms_bodies", "schedule": 3600.0},
        # Anonymize cases closed or cancelled more than SLRT_RETENTION_YEARS ago, and their residents
        # when no newer case of theirs remains (slrt.erasure); each run is counted in slrt.runs.
        "retire-closed-cases": {"task": "slrt.retire_closed_cases", "schedule": 86400.0},
        # Reminder digests to agency contacts and the escalation ladder. Each run does nothing
        # outside office hours and sends a contact at most one digest a day (dedupe key), so
        # every 15 minutes just means the first run of the office day does the work.
        "sweep-reminders": {"task": "slrt.sweep_reminders", "schedule": 900.0},
        # The audit log's monthly partitions (PostgreSQL), made ahead so that no entry lands in the
        # DEFAULT partition, which retention cannot drop whole.
        "audit-partitions": {"task": "slrt.audit_partitions", "schedule": 86400.0},
        # Drop the audit log's months older than SLRT_AUDIT_RETENTION_YEARS (a partition each on
        # PostgreSQL); the chain still verifies from the oldest kept entry. Counted in the metrics.
        "audit-retention": {"task": "slrt.audit_retention", "schedule": 86400.0},
    }
