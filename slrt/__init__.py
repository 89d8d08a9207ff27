"""SLRT back office: the domain (models, rules, workflow). The app factory is in app.py."""
