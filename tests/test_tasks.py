"""Celery tasks run inside the Flask app context; called directly they reuse the caller's."""

import pytest

from slrt import ops
from slrt.extensions import db
from slrt.models import Heartbeat


@pytest.fixture
def heartbeat(app):
    # this app's own Celery task (the shared_task proxy follows whichever app was built last)
    return app.extensions["celery"].tasks["slrt.heartbeat"]


def test_task_called_in_a_test_shares_the_test_session(app, db_session, frozen, heartbeat):
    heartbeat.apply()
    assert ops.is_alive()  # seen through the same (rolled back) session


def test_task_called_without_a_context_pushes_one(app, heartbeat):
    # no app context here: the task pushes its own and commits its own unit of work
    heartbeat.apply()
    with app.app_context():
        rows = ops.heartbeats()
        assert len(rows) == 1 and ops.last_beat() == rows[0].at
        db.session.delete(db.session.get(Heartbeat, rows[0].name))
        db.session.commit()
