"""Security declared once for every response: headers, CSP, and no caching of dynamic pages."""

from __future__ import annotations

from flask import Flask, request

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: over HTTPS Flask-WTF refuses a form posted without this site's own
    # Referer (every POST behind nginx failed); other sites still learn nothing of our addresses
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
NO_STORE = "no-store"  # pages can carry personal data or live seat counts: never kept by browsers or proxies


def init_app(app: Flask) -> None:
    @app.after_request
    def headers(response):
        h = response.headers
        for name, value in HEADERS.items():
            if name == "Content-Security-Policy":
                h.setdefault(name, value)
            else:
                h[name] = value
        if request.is_secure:
            h["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint != "static":
            h["Cache-Control"] = NO_STORE
        return response
