"""The opening rush: 1,000 simulated citizens against the public site under gunicorn on this machine.

Prints availability-page and booking throughput and p95 latency, the same for a bare Flask route
(/healthz) on the same server as the ceiling, and checks afterwards that no slot is overbooked.

    .venv/bin/python bench/bench_rush.py [--users 1000] [--seconds 60] [--workers 4] [--nginx-cache 1]

With --nginx-cache N, the citizens go through Debian's nginx (plain HTTP on loopback), which keeps the
availability calendars (/book/venues/<venue>: no form, the same for everyone) for N seconds, one request
to the site refreshing each (proxy_cache_lock, stale while updating) and no session cookie stored with
them; every other page passes through. The day pages cannot be cached: each carries the visitor's CSRF
token.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
NONCE = re.compile(r'name="nonce" type="hidden" value="([^"]+)"')
SLOT = re.compile(r'name="slot_id" value="(\d+)">\s*<button type="submit" class="slot" data-slot="\d+">')
DAY = re.compile(r'href="(/book/venues/[a-z-]+/\d{4}-\d\d-\d\d)"')
_people = iter(range(10**6))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX = """{user}pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
worker_processes 1;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/t-body; proxy_temp_path {root}/t-proxy; fastcgi_temp_path {root}/t-fcgi;
    uwsgi_temp_path {root}/t-uwsgi; scgi_temp_path {root}/t-scgi;
    proxy_cache_path {root}/cache keys_zone=calendars:10m;
    upstream site {{ server 127.0.0.1:{site_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $remote_addr;
        location ~ ^/book/venues/[a-z0-9-]+$ {{
            proxy_pass http://site;
            proxy_cache calendars;
            proxy_cache_key $scheme$proxy_host$request_uri$cookie_textsize;
            proxy_cache_valid 200 {seconds}s;
            proxy_cache_lock on;
            proxy_cache_use_stale updating;
            proxy_ignore_headers Set-Cookie Cache-Control Expires Vary;
            proxy_hide_header Set-Cookie;
        }}
        location / {{ proxy_pass http://site; }}
    }}
}}
"""


def start_nginx(root: Path, site_port: int, seconds: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    root.chmod(0o755)  # nginx's workers run as nobody: its cache and temp folders must be theirs to write
    for name in ("cache", "t-body", "t-proxy", "t-fcgi", "t-uwsgi", "t-scgi"):
        (root / name).mkdir(mode=0o777)
        (root / name).chmod(0o777)
    (root / "nginx.conf").write_text(NGINX.format(user="user root;\n" if os.geteuid() == 0 else "", root=root, site_port=site_port, port=port, seconds=seconds))
    nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(root / "nginx.conf"),
                              "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    return nginx, port


def prepare(root: Path) -> Path:
    """A demo city with the rate limits lifted (every simulated citizen shares one address)."""
    config = root / "madoguchi.toml"
    config.write_text(f'data_dir = "{root / "data"}"\nkey_dir = "{root / "keys"}"\n'
                      "rate_limit_per_ip = 100000000\nrate_limit_per_phone = 1000\n", encoding="utf-8")
    env = {**os.environ, "MADOGUCHI_CONFIG": str(config)}
    for command in (["init"], ["demo", "--weeks", "2"]):
        subprocess.run([sys.executable, "-m", "appliance", *command], env=env, check=True, capture_output=True)
    return config


class Citizen(HttpUser):
    """Looks at availability, then books: eligibility, a slot on an open day, details, confirm."""
    wait_time = between(0.5, 2.0)
    venues: list[str] = []

    @task(3)
    def look(self):
        self.client.get(f"/book/venues/{random.choice(self.venues)}", name="availability (calendar)")

    @task(1)
    def book(self):
        page = self.client.get("/start", name="start")
        token = CSRF.search(page.text).group(1)
        self.client.post("/start", data={"csrf_token": token, "q1": "y", "q2": "y", "q3": "y"}, name="start")
        calendar = self.client.get(f"/book/venues/{random.choice(self.venues)}", name="availability (calendar)")
        days = DAY.findall(calendar.text)
        if not days:
            return
        day = self.client.get(random.choice(days[:3]), name="availability (day)")
        slots = SLOT.findall(day.text)
        if not slots:
            return
        token = CSRF.search(day.text).group(1)  # each POST with the token of the page it comes from:
        with self.client.post("/book/slot", data={"csrf_token": token, "slot_id": random.choice(slots)},
                              name="choose slot", catch_response=True) as response:
            if response.status_code == 409:  # the seat went since the page was shown: 満席 + alternatives
                response.success()
                return
        n = next(_people)
        details = self.client.get("/book/details", name="details")
        token = CSRF.search(details.text).group(1)  # the session (and its token) may have been renewed
        self.client.post("/book/details", name="details", data={
            "csrf_token": token, "name": f"市民 {n}", "kana": "シミン", "phone": f"090{n:08d}",
            "birth_year": "1960", "birth_month": "1", "birth_day": str(1 + n % 28), "notify": "none"})
        confirm = self.client.get("/book/confirm", name="confirm")
        nonce = NONCE.search(confirm.text)
        if nonce:
            token = CSRF.search(confirm.text).group(1)
            with self.client.post("/book/confirm", data={"csrf_token": token, "nonce": nonce.group(1)},
                                  name="booking POST", catch_response=True, allow_redirects=False) as response:
                if response.status_code in (302, 409):  # 409: the seat went meanwhile (満席), a right answer
                    response.success()


class Ceiling(HttpUser):
    wait_time = between(0.5, 2.0)

    @task
    def health(self):
        self.client.get("/healthz", name="bare Flask route")


def run(user_class, host, users, seconds):
    env = Environment(user_classes=[user_class], events=events, host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=max(1, users // 10))
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    return env.stats


def report(stats, seconds):
    rows = {}
    for entry in stats.entries.values():
        rows[entry.name] = (entry.num_requests / seconds, entry.get_response_time_percentile(0.95),
                            entry.num_failures, entry.num_requests)
    return rows


def overbooking(config: Path) -> tuple[int, int, int]:
    env = {**os.environ, "MADOGUCHI_CONFIG": str(config)}
    code = (
        "from appliance import runtime\nfrom appliance.settings import load_settings\n"
        "from db.connection import open_database\nfrom db.models import Booking, Slot\n"
        "s = runtime.configure(load_settings()); open_database(s)\n"
        "over = sum(1 for x in Slot.select() if x.booked > x.capacity)\n"
        "bad = sum(1 for x in Slot.select() if x.booked != sum(b.party_size for b in x.bookings "
        "if b.status == 'confirmed'))\n"
        "print(over, bad, Booking.select().count())\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    over, bad, total = map(int, out.stdout.split())
    return over, bad, total


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--nginx-cache", type=int, default=0, help="seconds nginx keeps the calendars (0: no nginx)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = prepare(Path(tmp))
        Citizen.venues = ["honcho", "kita", "minami", "higashi", "nishi", "ekimae", "chuo"]
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "appliance", "serve", "public", "--bind",
                                   f"127.0.0.1:{port}", "--workers", str(args.workers)],
                                  env={**os.environ, "MADOGUCHI_CONFIG": str(config), "MADOGUCHI_LOG_LEVEL": "WARNING"},
                                  cwd=ROOT, stderr=subprocess.DEVNULL)
        nginx = None
        if args.nginx_cache:
            nginx, front = start_nginx(Path(tmp), port, args.nginx_cache)
        host = f"http://127.0.0.1:{front if nginx else port}"
        try:
            for waited in (port, front) if nginx else (port,):
                for _ in range(100):
                    try:
                        socket.create_connection(("127.0.0.1", waited), timeout=0.2).close()
                        break
                    except OSError:
                        time.sleep(0.1)
            rush = report(run(Citizen, host, args.users, args.seconds), args.seconds)
            ceiling = report(run(Ceiling, host, args.users, args.seconds), args.seconds)
        finally:
            for process in (nginx, server):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)
        over, inconsistent, total = overbooking(config)

    print(f"\nopening rush: {args.users} simulated citizens, {args.seconds} s each run, gunicorn "
          f"{args.workers} sync workers, {os.cpu_count()} cores (load generator on the same machine)"
          + (f", through nginx keeping the calendars {args.nginx_cache} s" if args.nginx_cache else ""))
    print(f"{'endpoint':28} {'req/s':>8} {'p95 ms':>8} {'failed':>7} {'requests':>9}")
    for name, (rps, p95, failed, count) in {**rush, **ceiling}.items():
        if name != "Aggregated":
            print(f"{name:28} {rps:8.1f} {p95:8.0f} {failed:7d} {count:9d}")
    ceiling_rps = ceiling.get("bare Flask route", (0,))[0]
    availability = sum(v[0] for k, v in rush.items() if k.startswith("availability"))
    if ceiling_rps:
        print(f"availability pages / bare route throughput: {availability / ceiling_rps:.2f}")
    print(f"bookings in the database: {total}; slots over capacity: {over}; slots whose counters disagree "
          f"with their bookings: {inconsistent}")
    if over or inconsistent:
        sys.exit(1)


if __name__ == "__main__":
    main()
