"""Signing in through the real forms (with their CSRF tokens) for view tests."""

from __future__ import annotations

import re

from flask import Flask

PASSWORD = "rahasia-demo-1"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


class Browser:
    """A test client that signs in like a person and keeps the last page's CSRF token."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        self.token: str | None = None

    def get(self, url: str, **kwargs):
        # A fresh app context per request, as in production: the tests hold one open for the
        # domain code, and a request would otherwise reuse its ``g`` (and the signed-in user).
        with self.app.app_context():
            response = self.client.get(url, **kwargs)
        if response.status_code == 200 and b"csrf_token" in response.data:
            self.token = csrf_token(response.get_data(as_text=True))
        return response

    def post(self, url: str, data: dict | None = None, token: bool = True, **kwargs):
        data = dict(data or {})
        if token:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        with self.app.app_context():
            return self.client.post(url, data=data, **kwargs)

    def login(self, username: str, password: str = PASSWORD, code: str | None = None):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        if code is not None and response.status_code == 302 and "tf-validate" in response.headers["Location"]:
            self.get(response.headers["Location"])
            response = self.post("/tf-validate", {"code": code})
        self.get("/admin/")
        return response

    def search(self, list_url: str, term: str):
        """Type ``term`` into the search box of the list at ``list_url``; the result page."""
        self.get(list_url)
        response = self.post(f"{list_url.rstrip('/')}/search/", {"search": term})
        if response.status_code != 302:
            return response
        return self.get(response.headers["Location"])
