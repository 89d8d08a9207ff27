"""Celery bound to Flask: every task runs inside an application context."""

from __future__ import annotations

import logging

from celery import Celery, Task
from celery.signals import (
    beat_init,
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from flask import Flask, current_app, has_app_context

# The task modules register their @shared_task functions on every Celery app built below.
import tasks.imports  # noqa: F401
import tasks.ops  # noqa: F401
import tasks.outbox  # noqa: F401
import tasks.reminders  # noqa: F401
import tasks.retention  # noqa: F401
from slrt import logs
from slrt.extensions import db
from slrt.outbox import help_number_problem
from tasks.ops import WorkerHeartbeat, broker_problem
from tasks.schedule import beat_schedule

log = logging.getLogger(__name__)
#: Each running task's logging context, by task id (a thread pool runs several at once).
_task_tokens: dict[str, object] = {}


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for ``app`` and register it as ``app.extensions['celery']``."""

    class FlaskTask(Task):
        """Runs in an app context; reuses the caller's when a test calls the task directly."""

        def __call__(self, *args, **kwargs):
            if has_app_context() and current_app._get_current_object() is app:
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        broker_url=app.config["CELERY_BROKER_URL"],
        task_ignore_result=True,
        result_backend=None,
        # A task is acknowledged after it ran, so a killed worker's task is delivered again.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        timezone=app.config["SLRT_TIMEZONE"],
        enable_utc=True,
        beat_schedule=beat_schedule(app.config),
        # Schedules only while it holds the beat lock: a second beat started by mistake stands by.
        beat_scheduler="tasks.beat:SingleBeatScheduler",
    )
    celery_app.flask_app = app  # for the beat scheduler, which Celery builds from the Celery app
    app.extensions["slrt_broker_check"] = lambda: broker_problem(celery_app)
    heartbeats: list[WorkerHeartbeat] = []

    @worker_ready.connect(weak=False, dispatch_uid="slrt-worker-heartbeat")
    def _start_heartbeat(sender, **_kwargs) -> None:
        # sender is the worker's consumer; its hostname is the node name (`-n worker1@%h`).
        heartbeat = WorkerHeartbeat(app, sender.hostname, app.config["SLRT_HEARTBEAT_SECONDS"])
        heartbeat.start()
        heartbeats.append(heartbeat)

    @worker_shutdown.connect(weak=False, dispatch_uid="slrt-worker-heartbeat")
    def _stop_heartbeat(**_kwargs) -> None:
        while heartbeats:
            heartbeats.pop().stop()

    @worker_process_init.connect(weak=False, dispatch_uid="slrt-fork")
    def _fresh_connections(**_kwargs) -> None:
        # A prefork child must not share the parent's pooled database connections.
        with app.app_context():
            db.engine.dispose(close=False)

    @setup_logging.connect(weak=False, dispatch_uid="slrt-logging")
    def _one_log_format(**_kwargs) -> None:
        # Connected, it keeps Celery from installing its own handlers: the worker and beat log in
        # the web app's format (slrt.logs, set up when the app was built), at SLRT_LOG_LEVEL.
        logs.configure(app.config["SLRT_LOG_LEVEL"], app.config["SLRT_LOG_FORMAT"])
        # Two INFO lines per task ("received", "succeeded") cost ~1 ms of CPU per SMS and
        # say nothing the outbox screen does not; failures and our own lines still log.
        for name in ("celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)

    @celeryd_init.connect(weak=False, dispatch_uid="slrt-worker-name")
    def _name_worker_lines(sender=None, **_kwargs) -> None:
        logs.bind_process(worker=sender)  # the node name, celery@host (slrt-worker@1 under systemd)

    @beat_init.connect(weak=False, dispatch_uid="slrt-beat-name")
    def _name_beat_lines(**_kwargs) -> None:
        logs.bind_process(worker="beat")

    @task_prerun.connect(weak=False, dispatch_uid="slrt-task-context")
    def _bind_task(task_id=None, task=None, **_kwargs) -> None:
        _task_tokens[task_id] = logs.bind(task_id=task_id, task=getattr(task, "name", None))

    @task_postrun.connect(weak=False, dispatch_uid="slrt-task-context-end")
    def _unbind_task(task_id=None, **_kwargs) -> None:
        token = _task_tokens.pop(task_id, None)
        if token is not None:
            logs.unbind(token)

    @worker_ready.connect(weak=False, dispatch_uid="slrt-help-number")
    def _check_help_number(**_kwargs) -> None:
        # Not a refusal to start: the notices still go, and the replies that need a number
        # are withheld one by one (slrt.inbound); the operator reads why here.
        with app.app_context():
            problem = help_number_problem()
            db.session.remove()
        if problem:
            log.error(problem)

    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


__all__ = ["celery_init_app"]
