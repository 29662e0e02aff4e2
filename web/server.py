"""`madoguchi serve public|admin`: the Flask app under gunicorn, configured from the settings table."""

from __future__ import annotations

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication

from appliance.settings import Settings

# gunicorn's own limits stay at their largest (a URL or header beyond them is refused by gunicorn,
# with the site's Japanese page, see _answer_refusals_with); what the sites accept is bounded in Flask.
REQUEST_LIMITS = {"limit_request_line": 8190, "limit_request_fields": 100, "limit_request_field_size": 8190}


class SiteServer(BaseApplication):
    def __init__(self, settings: Settings, site: str, bind: str | None = None, workers: int | None = None):
        self.settings, self.site = settings, site
        self.options = {
            "bind": bind or (settings.public_bind if site == "public" else settings.admin_bind),
            "workers": workers or settings.web_workers,
            "worker_class": "sync",
            "timeout": 30,
            "graceful_timeout": 10,
            "keepalive": 5,
            "max_requests": 5000,
            "max_requests_jitter": 500,
            "accesslog": None,  # the access log would carry look-up URLs and addresses; ours is in the database
            "errorlog": "-",
            "proc_name": f"madoguchi-{site}",
            "control_socket_disable": True,  # two sites would fight over one default socket path
            "worker_exit": _flush_traffic,
            **REQUEST_LIMITS,
        }
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web import create_app  # in each worker, after fork: its own database connection
        app = create_app(self.settings, self.site)
        _answer_refusals_with(app, self.site)
        return app


def _answer_refusals_with(app, site: str) -> None:
    """gunicorn answers a request it cannot parse (a broken request line, a URL or header over its
    limits) itself, with an English page and none of the sites' headers. In this worker its error
    writer gives the site's own Japanese error page instead, rendered once here."""
    from flask import render_template

    from web.security import HEADERS, NO_STORE

    template = "error.html" if site == "public" else "admin/error.html"
    pages = {}
    with app.test_request_context("/"):
        for status in (400, 403, 414, 417, 431, 500, 501):
            pages[status] = render_template(template, status=status).encode("utf-8")

    def write_error(sock, status_int, reason, mesg):
        body = pages.get(status_int, pages[400])
        head = [f"HTTP/1.1 {status_int} {reason}", "Connection: close", "Content-Type: text/html; charset=utf-8",
                f"Content-Length: {len(body)}", f"Cache-Control: {NO_STORE}",
                *(f"{name}: {value}" for name, value in HEADERS.items())]
        gunicorn_util.write_nonblock(sock, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    gunicorn_util.write_error = write_error


def _flush_traffic(server, worker) -> None:
    """A stopping worker writes the requests it counted but had not written yet."""
    from appliance import clock
    from web import traffic
    traffic.flush(clock.now())
