"""Security declared once for every response: headers, CSP, and no caching of dynamic pages."""

from __future__ import annotations

from flask import Flask, request

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def init_app(app: Flask) -> None:
    @app.after_request
    def headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "no-referrer"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if request.is_secure:
            h["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint != "static":
            # Pages can carry personal data or live seat counts: never stored by browsers or proxies.
            h["Cache-Control"] = "no-store"
        return response
