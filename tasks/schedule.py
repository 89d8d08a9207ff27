"""The beat schedule: one dict, one comment per entry. Exactly one beat runs per deployment."""

from __future__ import annotations


def beat_schedule(config) -> dict:
    """Return the beat schedule for the app's settings."""
    return {
        # Beat -> broker -> worker -> database: proves the whole background path is alive.
        # The home page shows the last beat, so staff see at a glance whether SMS can go out.
        "heartbeat": {"task": "slrt.heartbeat", "schedule": float(config["SLRT_HEARTBEAT_SECONDS"])},
        # Re-queue outbox messages never picked up (broker down at commit, worker killed) and
        # those whose retry time has come; retry times live in the rows, not in Celery countdowns.
        "sweep-outbox": {"task": "slrt.sweep_outbox", "schedule": float(config["SLRT_SWEEP_SECONDS"])},
    }
