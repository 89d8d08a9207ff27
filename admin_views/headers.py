"""Security headers on every response: Flask-Talisman, plus no caching of pages and HSTS behind HTTPS.

- Content-Security-Policy: everything from this server only (no CDN); scripts are our files or
  carry the response's nonce (Flask-Admin puts it on its script tags); no inline event handler,
  no inline style, no plugin, no framing (frame-ancestors 'none', X-Frame-Options DENY).
- X-Content-Type-Options nosniff; Referrer-Policy same-origin (an address never leaves us).
- Cache-Control no-store on every page and download (they show personal data); only static
  files (CSS, JavaScript, fonts) may be kept.
- Strict-Transport-Security when SLRT_PUBLIC_URL is https (a TLS proxy in front terminates
  TLS and redirects plain HTTP; the app itself never redirects).
"""

from __future__ import annotations

from flask import Flask, request
from flask_talisman import DENY, Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",  # + the response's nonce
    "style-src": "'self'",
    "img-src": "'self' data:",  # Bootstrap's icons and the authenticator QR code are data: images
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
#: A year, as browsers and preload lists expect.
HSTS = "max-age=31536000; includeSubDomains"

talisman = Talisman()


def csp_nonce() -> str:
    """This response's script nonce (set by Talisman before each request)."""
    return getattr(request, "csp_nonce", "")


def init_headers(app: Flask) -> None:
    """Bind the headers to ``app``; call before Flask-Security registers its views."""
    https = str(app.config["SLRT_PUBLIC_URL"]).startswith("https://")
    talisman.init_app(
        app,
        force_https=False,
        strict_transport_security=False,  # below: from SLRT_PUBLIC_URL, not from the proxy's headers
        session_cookie_secure=https,
        frame_options=DENY,
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src"],
        referrer_policy="same-origin",
    )
    # Cache-Control is set here for every page; Flask-Security's own (a malformed
    # "private=True, no-store=True" on its views) is switched off.
    app.config["SECURITY_CACHE_CONTROL"] = None

    @app.after_request
    def _no_store(response):
        endpoint = request.endpoint or ""
        if endpoint != "static" and not endpoint.endswith(".static"):
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Pragma", None)
            response.headers.pop("Expires", None)
        if https:
            response.headers["Strict-Transport-Security"] = HSTS
        return response
