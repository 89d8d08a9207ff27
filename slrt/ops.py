"""Operational state the screens show: is the background machinery alive?"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from slrt import clock
from slrt.extensions import db
from slrt.models import Heartbeat

#: A heartbeat older than this means the worker or beat is down.
STALE_AFTER = timedelta(minutes=2)


def beat(name: str) -> Heartbeat:
    """Record that process ``name`` is alive now."""
    row = db.session.get(Heartbeat, name) or Heartbeat(name=name)
    row.at = clock.now()
    row.detail = f"{socket.gethostname()} pid {os.getpid()}"
    db.session.add(row)
    db.session.flush()
    return row


def last_beat(name: str):
    row = db.session.get(Heartbeat, name)
    return row.at if row else None


def is_alive(name: str) -> bool:
    at = last_beat(name)
    return at is not None and clock.now() - at < STALE_AFTER
