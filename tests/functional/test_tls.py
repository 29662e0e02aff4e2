"""The compose stack's nginx configuration (docker/nginx.conf), run by Debian's nginx on loopback in front
of the real sites (gunicorn) with the self-signed certificates a first start makes: TLS 1.1 is refused
by the server and 1.2 and 1.3 are served (openssl s_client), every answer carries HSTS, the admin
listener refuses an address outside its allow lines, and the admin site sees the client's own address
through proxy_hops (its access log). Only ports, upstreams and file paths are rewritten for loopback,
and the test's client address is added to the admin allow lines as a city adds its networks."""

from __future__ import annotations

import datetime
import http.client
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from appliance import tls
from db.connection import connect
from db.keys import load_keyring
from tests.browser.conftest import serving
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
    with serving("public", root, settings, "/") as public, serving("admin", root, settings, "/login") as admin:
        ports = {"public": free_port(), "admin": free_port()}
        conf = (REPO / "docker" / "nginx.conf").read_text()
        for old, new in (("listen 443 ssl", f"listen 127.0.0.1:{ports['public']} ssl"),
                         ("listen 8443 ssl", f"listen 127.0.0.1:{ports['admin']} ssl"),
                         ("http://appliance:8080", public.url), ("http://appliance:8081", admin.url),
                         ("/etc/nginx/certs/", f"{root}/certs/"), ("/var/log/nginx/", f"{root}/"),
                         ("    deny all;", f"    allow {CLIENT};\n    deny all;")):
            assert old in conf, old
            conf = conf.replace(old, new)
        (root / "madoguchi.conf").write_text(conf)
        (root / "temp").mkdir()
        (root / "nginx.conf").write_text(
            f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\nhttp {{\n"
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
            yield ports, settings
        finally:
            process.terminate()
            process.wait(timeout=20)


def get(port: int, path: str, source: str = "127.0.0.1") -> http.client.HTTPResponse:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, source_address=(source, 0),
                                             timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    return response


def s_client(port: int, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *options], input="",
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("site", ["public", "admin"])
def test_tls_1_1_is_refused_by_the_server_and_1_2_and_1_3_are_served(stack, site):
    ports, _ = stack
    for version in ("-tls1_2", "-tls1_3"):
        served = s_client(ports[site], version)
        assert served.returncode == 0 and "Cipher is" in served.stdout, served.stdout[-800:] + served.stderr
    # the client is allowed TLS 1.1 (OpenSSL 3 forbids it at its default security level): the refusal
    # must be the server's protocol-version alert, not the client's own "no protocols available"
    old = s_client(ports[site], "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert old.returncode != 0 and "no protocols available" not in old.stderr
    assert "protocol version" in old.stderr or "unsupported protocol" in old.stderr, old.stderr


def test_every_answer_carries_hsts(stack):
    ports, _ = stack
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
    ports, settings = stack
    seen = access_sources(settings)
    before = seen[-1][0] if seen else 0
    assert get(ports["admin"], "/login", "127.0.0.1").status == 403  # not in the allow lines: nginx refuses
    assert get(ports["admin"], "/login", CLIENT).status == 200
    # the one request that reached the site is logged with the client's address (X-Forwarded-For
    # through proxy_hops), not nginx's 127.0.0.1
    assert [source for _, source in access_sources(settings, before)] == [CLIENT]
