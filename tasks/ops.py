"""Operational tasks: the heartbeat that shows the workers are alive."""

from __future__ import annotations

from celery import shared_task

from slrt import ops
from slrt.extensions import persist


@shared_task(name="slrt.heartbeat")
def heartbeat() -> None:
    """Record that a worker ran a task from beat just now."""
    persist(lambda: ops.beat("worker"))
