"""Flask app factory for the public booking site and (later) the staff admin site."""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Flask, make_response, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, ValidationError

from appliance import clock, runtime
from appliance.settings import Settings
from db import crypto, normalize
from db.connection import Busy, database, open_database
from web import security, traffic
from web.sessions import DatabaseSessionInterface

log = logging.getLogger(__name__)
csrf = CSRFProtect()


class IdConverter(BaseConverter):
    """`<int:...>` in both sites' URLs: ASCII digits naming a possible row, else no match (404).
    Werkzeug's own takes any Unicode digit (`\\d`) and any size, which SQLite then refuses."""

    regex = r"[0-9]{1,19}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = normalize.record_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


def create_app(settings: Settings | None = None, site: str = "public") -> Flask:
    settings = runtime.configure(settings or runtime.settings())
    if database.obj is None or database.is_closed():
        open_database(settings)
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.url_map.converters["int"] = IdConverter
    # Derived from the index key, so there is no extra secret to keep and rotate.
    secret = hmac.new(crypto.cipher().keyring.index_key, b"flask-secret-key", hashlib.sha256).digest()
    app.config.update(
        SECRET_KEY=secret,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        # the admin site takes uploads (announcement audio, flow JSON): files go to temporary files, and
        # every other form field stays within 64 KB as on the public site
        MAX_CONTENT_LENGTH=(21 * 1024 * 1024) if site == "admin" else 64 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        SESSION_COOKIE_SECURE=settings.proxy_hops > 0,
        TEMPLATES_AUTO_RELOAD=False,
        SITE=site,
    )
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["tokyo"] = _tokyo_time
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                                x_host=settings.proxy_hops)
    extra_context: dict[str, object] = {}
    if site == "public":
        from web.public.blueprint import blueprint
        app.session_interface = DatabaseSessionInterface()
        app.after_request(_count_public)
    elif site == "admin":
        from web.admin.access import COOKIE, may, refuse_outsiders
        from web.admin.blueprint import blueprint
        from web.admin.forms import MESSAGES
        extra_context["reauth_message"] = MESSAGES["login.reauth_needed"]
        extra_context["may"] = may
        app.session_interface = DatabaseSessionInterface(COOKIE, "admin_idle_minutes")
        app.before_request(refuse_outsiders)  # before CSRF: an outsider gets 403, not 400
    else:
        raise ValueError(f"unknown site {site!r}")
    csrf.init_app(app)
    security.init_app(app)
    app.register_blueprint(blueprint)
    if site == "public":
        from web.api.blueprint import blueprint as api
        csrf.exempt(api)  # the gateway authenticates with the secret URL, not a form token
        app.register_blueprint(api)

    @app.context_processor
    def common():
        return {"settings": runtime.settings(), "site": site, **extra_context}

    def error_page(template: str = "error.html", status: int | None = None):
        """Every HTTP error (and Busy, as 503) answers with the site's own Japanese page."""
        page = template if site == "public" else f"admin/{template}"

        def handler(error):
            code = status or getattr(error, "code", None) or 500
            response = make_response(render_template(page, status=code), code)
            if isinstance(error, MethodNotAllowed) and error.valid_methods:
                response.headers["Allow"] = ", ".join(error.valid_methods)
            return response
        return handler

    app.register_error_handler(HTTPException, error_page())
    app.register_error_handler(CSRFError, error_page("error_session.html", 400))
    app.register_error_handler(Busy, error_page(status=503))
    return app


def _tokyo_time(at, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return at.astimezone(clock.TOKYO).strftime(fmt) if at else ""


def _count_public(response):
    if request.endpoint != "static":
        traffic.count("public", clock.now())
    return response
