"""The beat schedule: one dict, one comment per entry. Exactly one beat runs per deployment."""

from __future__ import annotations

BEAT_SCHEDULE = {
    # Beat -> broker -> worker -> database: proves the whole background path is alive.
    # The home page shows the last beat, so staff see at a glance whether SMS can go out.
    "heartbeat": {"task": "slrt.heartbeat", "schedule": 30.0},
}
