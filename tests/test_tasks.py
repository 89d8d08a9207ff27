"""Celery tasks run inside the Flask app context; called directly they reuse the caller's."""

from slrt import ops
from tasks.ops import heartbeat


def test_task_called_in_a_test_shares_the_test_session(app, db_session, frozen):
    heartbeat.apply()
    assert ops.is_alive("worker")  # seen through the same (rolled back) session


def test_task_called_without_a_context_pushes_one(app):
    # no app context here: the task pushes its own and commits its own unit of work
    heartbeat.apply()
    with app.app_context():
        assert ops.last_beat("worker") is not None
        from slrt.extensions import db
        from slrt.models import Heartbeat

        db.session.delete(db.session.get(Heartbeat, "worker"))
        db.session.commit()
