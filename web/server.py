"""`madoguchi serve public|admin`: the Flask app under gunicorn, configured from the settings table."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from appliance.settings import Settings


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
        }
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web import create_app  # in each worker, after fork: its own database connection
        return create_app(self.settings, self.site)


def _flush_traffic(server, worker) -> None:
    """A stopping worker writes the requests it counted but had not written yet."""
    from appliance import clock
    from web import traffic
    traffic.flush(clock.now())
