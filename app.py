"""Entry point: ``flask --app app ...``, ``celery -A app ...`` and ``gunicorn app:application``.

The Flask app is named ``application`` on purpose: Celery's ``-A app`` takes a module's
``app`` attribute before its ``celery`` one, so a Flask object called ``app`` here would
hide the Celery app from the worker.
"""

from slrt import create_app

application = create_app()
celery = application.extensions["celery"]
