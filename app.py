"""Entry point: ``flask --app app ...`` and ``celery -A app ...`` both find what they need here."""

from slrt import create_app

app = create_app()
celery = app.extensions["celery"]
