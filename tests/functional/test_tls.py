"""The compose stack's nginx configuration (docker/nginx.conf), run by Debian's nginx on loopback in front
of the real sites (gunicorn) with the self-signed certificates a first start makes: TLS 1.1 is refused
by the server and 1.2 and 1.3 are served (openssl s_client), every answer carries HSTS, the admin
listener refuses an address outside its allow lines, and the admin site sees the client's own address
through proxy_hops (its access log); a citizen's and a clerk's forms post through it (the CSRF check
wants a Referer naming this host and port, which the page's Referrer-Policy must let the browser send);
the availability calendars are kept a second without a session cookie, and no other page is kept. Only ports, upstreams and file paths are rewritten for loopback,
and the test's client address is added to the admin allow lines as a city adds its networks."""

from __future__ import annotations

import datetime
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from appliance import tls
from db.connection import connect
from db.keys import load_keyring
from db.models import Venue
from tests.browser.conftest import serving, site_database
from tests.conftest import make_instance, process_globals_kept

REPO = Path(__file__).resolve().parents[2]
CLIENT = "127.0.0.2"  # the citizen's or clerk's machine; nginx and the sites talk over 127.0.0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = tmp_path_factory.mktemp("tls")
    with process_globals_kept():
        settings = make_instance(root, proxy_hops=1, admin_allowlist="127.0.0.0/8")
    tls.self_signed(root / "certs", ["localhost", "127.0.0.1"], datetime.datetime.now(datetime.UTC))
    with site_database(settings):
        Venue.create(slug="honcho-2", name="本庁舎", kana="ホンチョウシャ")
    with serving("public", root, settings, "/") as public, serving("admin", root, settings, "/login") as admin:
        ports = {"public": free_port(), "admin": free_port()}
        conf = (REPO / "docker" / "nginx.conf").read_text()
        for old, new in (("listen 443 ssl", f"listen 127.0.0.1:{ports['public']} ssl"),
                         ("listen 8443 ssl", f"listen 127.0.0.1:{ports['admin']} ssl"),
                         ("http://appliance:8080", public.url), ("http://appliance:8081", admin.url),
                         ("/etc/nginx/certs/", f"{root}/certs/"), ("/var/log/nginx/", f"{root}/"),
                         ("/var/cache/nginx/", f"{root}/cache/"),
                         ("    deny all;", f"    allow {CLIENT};\n    deny all;")):
            assert old in conf, old
            conf = conf.replace(old, new)
        (root / "madoguchi.conf").write_text(conf)
        (root / "temp").mkdir()
        (root / "cache").mkdir()  # /var/cache/nginx in the nginx image
        # as root, nginx's workers would be "nobody", who may not enter pytest's private folders
        (root / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\nhttp {{\n"
            + "".join(f"    {kind}_temp_path {root}/temp/{kind};\n"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + f"    include {root}/madoguchi.conf;\n}}\n")
        process = subprocess.Popen([nginx, "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
                                   stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", ports["admin"]), timeout=1).close()
                    break
                except OSError:
                    assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
                    time.sleep(0.1)
            yield ports, settings, root
        finally:
            process.terminate()
            process.wait(timeout=20)


def get(port: int, path: str, source: str = "127.0.0.1", body: list | None = None, cookie: str = "",
        form: dict | None = None, policy: str = "") -> http.client.HTTPResponse:
    """GET path, or POST form to it as a browser does after the page whose Referrer-Policy was policy."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, source_address=(source, 0),
                                             timeout=10)
    headers = {"Cookie": cookie} if cookie else {}
    if form is None:
        connection.request("GET", path, headers=headers)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if policy != "no-referrer":  # the browser's Referer, which Flask-WTF requires over HTTPS
            headers["Referer"] = f"https://127.0.0.1:{port}{path}"
        connection.request("POST", path, urllib.parse.urlencode(form), headers)
    response = connection.getresponse()
    read = response.read()
    if body is not None:
        body.append(read)
    return response


def s_client(port: int, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *options], input="",
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("site", ["public", "admin"])
def test_tls_1_1_is_refused_by_the_server_and_1_2_and_1_3_are_served(stack, site):
    ports, _, _ = stack
    for version in ("-tls1_2", "-tls1_3"):
        served = s_client(ports[site], version)
        assert served.returncode == 0 and "Cipher is" in served.stdout, served.stdout[-800:] + served.stderr
    # the client is allowed TLS 1.1 (OpenSSL 3 forbids it at its default security level): the refusal
    # must be the server's protocol-version alert, not the client's own "no protocols available"
    old = s_client(ports[site], "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert old.returncode != 0 and "no protocols available" not in old.stderr
    assert "protocol version" in old.stderr or "unsupported protocol" in old.stderr, old.stderr


def test_every_answer_carries_hsts(stack):
    ports, _, _ = stack
    for site, path in (("public", "/"), ("admin", "/login"), ("public", "/no-such-page")):
        response = get(ports[site], path, CLIENT)
        assert response.getheader("Strict-Transport-Security") == "max-age=31536000", (site, path)


def access_sources(settings, after: int = 0) -> list[tuple[int, str]]:
    db = connect(settings.database_path, load_keyring(settings.key_dir), 5000)
    try:
        return db.execute_sql("SELECT id, source FROM access_log WHERE id > ? ORDER BY id", (after,)).fetchall()
    finally:
        db.close()


def test_the_admin_listener_refuses_outsiders_and_the_site_sees_the_clients_own_address(stack):
    ports, settings, _ = stack
    seen = access_sources(settings)
    before = seen[-1][0] if seen else 0
    assert get(ports["admin"], "/login", "127.0.0.1").status == 403  # not in the allow lines: nginx refuses
    assert get(ports["admin"], "/login", CLIENT).status == 200
    # the one request that reached the site is logged with the client's address (X-Forwarded-For
    # through proxy_hops), not nginx's 127.0.0.1
    assert [source for _, source in access_sources(settings, before)] == [CLIENT]


def cache_statuses(root: Path, path: str) -> list[str]:
    """$upstream_cache_status of each request for path in nginx's access log ("-": not a cached place)."""
    return [line.split()[-1] for line in (root / "access.log").read_text().splitlines() if f"GET {path}\"" in line]


def eligible_citizen(port: int) -> str:
    """The session cookie of a citizen who has answered the eligibility questions (the calendars' gate),
    posted as a browser does over HTTPS: with the page's address as Referer (the CSRF check wants it)."""
    page = []
    first = get(port, "/start", CLIENT, page)
    cookie = first.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page[0].decode()).group(1)
    answered = get(port, "/start", CLIENT, cookie=cookie, form={"csrf_token": token, "venue": "honcho-2"},
                   policy=first.getheader("Referrer-Policy"))
    assert answered.status == 302 and answered.getheader("Location").endswith("/book/venues/honcho-2")
    return answered.getheader("Set-Cookie").split(";")[0]


def test_the_calendars_are_kept_a_second_without_a_cookie_and_no_other_page_is_kept(stack):
    ports, _, root = stack
    calendar, bodies = "/book/venues/honcho-2", []
    cookie = eligible_citizen(ports["public"])
    answers = [get(ports["public"], calendar, CLIENT, bodies, cookie) for _ in range(6)]
    assert all(a.status == 200 and a.getheader("Set-Cookie") is None for a in answers)
    assert "本庁舎" in bodies[0].decode() and len(set(bodies)) == 1
    # six requests within about a second: the first fetched, at least one served from the copy (each of
    # them would have to take a second for none to be)
    statuses = cache_statuses(root, calendar)
    assert statuses[0] == "MISS" and "HIT" in statuses, statuses
    large = []  # 文字の大きさ「大きく」 is a page of its own, never the standard one kept
    get(ports["public"], calendar, CLIENT, large, cookie + "; textsize=large")
    assert '<html lang="ja" class="large">' in large[0].decode()
    get(ports["public"], "/book/venues/honcho-2/2030-01-01", CLIENT, cookie=cookie)
    assert cache_statuses(root, "/book/venues/honcho-2/2030-01-01") == ["-"]  # the day pages carry a form
    assert set(cache_statuses(root, "/start")) == {"-"}  # nor any page with the visitor's session


def test_a_clerk_can_post_the_login_form_through_nginx(stack):
    ports, _, _ = stack
    page = []
    first = get(ports["admin"], "/login", CLIENT, page)
    cookie = first.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page[0].decode()).group(1)
    answer = []
    posted = get(ports["admin"], "/login", CLIENT, answer, cookie,
                 {"csrf_token": token, "login": "nobody", "password": "wrong password"},
                 first.getheader("Referrer-Policy"))
    # the form was taken (the CSRF check passed with the port in Host and Referer): a the wrong password told
    assert posted.status == 401 and "ログインIDまたはパスワードが違います" in answer[0].decode()
