"""The beat scheduler that schedules only while it holds the beat lock: exactly one beat per deployment.

``celery beat`` uses it (``beat_scheduler`` in tasks/__init__.py). A beat started while
another runs gets no lock: it logs a warning that it is standing by, schedules nothing and
opens no schedule file, and tries the lock again every ``STANDBY_SECONDS``; when the first
beat ends (stopped or killed: PostgreSQL drops a dead session's advisory lock, the kernel a
dead process's flock) the standby takes the lock and schedules from then on. The lock itself
is slrt.ops.BeatLock. The scheduling beat also records its tick (``heartbeat`` row ``beat``)
every ``SLRT_HEARTBEAT_SECONDS`` for readiness.
"""

from __future__ import annotations

import logging
import time

from celery.beat import PersistentScheduler

from slrt import ops
from slrt.extensions import db, persist

log = logging.getLogger(__name__)

#: How often a standing-by beat tries the lock again (seconds).
STANDBY_SECONDS = 5.0


class SingleBeatScheduler(PersistentScheduler):
    """Celery's file-backed scheduler, active only while this beat holds the beat lock."""

    def __init__(self, *args, **kwargs) -> None:
        self.flask_app = kwargs["app"].flask_app
        self.lock = ops.BeatLock(self.flask_app.config["SQLALCHEMY_DATABASE_URI"], self.flask_app.instance_path)
        self._holding = False
        self._standing_by = False
        self._opened = False
        self._ticked_at = 0.0
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        # Deferred to the first tick with the lock: a standby must not open (or, thinking it
        # corrupt, remove) the schedule file the scheduling beat has open.
        pass

    def tick(self, *args, **kwargs) -> float:
        if not self._hold():
            return STANDBY_SECONDS
        if not self._opened:
            super().setup_schedule()
            self._opened = True
        self._record_tick()
        return min(super().tick(*args, **kwargs), self._tick_every)

    @property
    def _tick_every(self) -> float:
        return float(self.flask_app.config["SLRT_HEARTBEAT_SECONDS"])

    def _hold(self) -> bool:
        held = self.lock.acquire()
        if held and not self._holding:
            log.info("beat lock taken (%s): this beat schedules the periodic tasks", self.lock.where)
        elif not held and self._holding:
            log.warning("beat lock lost (%s): this beat schedules nothing until it takes it again", self.lock.where)
            self._close_schedule()
        elif not held and not self._standing_by:
            log.warning("another beat holds the beat lock (%s): this beat is standing by and schedules "
                        "nothing; it takes over when that one stops (retrying every %g s)",
                        self.lock.where, STANDBY_SECONDS)
        self._holding, self._standing_by = held, not held
        return held

    def _record_tick(self) -> None:
        now = time.monotonic()
        if now - self._ticked_at < self._tick_every:
            return
        self._ticked_at = now
        with self.flask_app.app_context():
            try:
                persist(ops.tick)
            except Exception as exc:  # a database down for a moment must not stop the schedule
                log.warning("beat tick not recorded: %s", type(exc).__name__)
            finally:
                db.session.remove()

    def _close_schedule(self) -> None:
        if self._opened:
            self._opened = False
            self._heap = None
            super().close()
            self._store = None

    def sync(self) -> None:
        if self._opened:
            super().sync()

    def close(self) -> None:
        try:
            if self._opened:
                super().close()
        finally:
            self.lock.release()
            self._holding = False

    @property
    def info(self) -> str:
        return f"    . db -> {self.schedule_filename}\n    . lock -> {self.lock.where}"
