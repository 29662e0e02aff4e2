"""What gunicorn itself answers, in front of both sites (`madoguchi serve`): a URL over its limit, a
header over its limit or a request it cannot parse gets the site's own Japanese error page with the
security headers, not gunicorn's English one."""

from __future__ import annotations

import socket
import urllib.parse

import pytest

from web.security import CSP


def raw_request(url: str, request: bytes) -> tuple[str, dict[str, str], str]:
    """Send bytes as they are; (status line, headers, body) of the answer."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, body.decode("utf-8")


@pytest.mark.parametrize("which", ["site", "admin_site"])
def test_gunicorn_refusals_get_the_sites_japanese_page(request, which):
    served = request.getfixturevalue(which)
    cases = {
        "414": b"GET /?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "431": b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"b" * 9000 + b"\r\n\r\n",
        "400": b"GARBAGE\r\n\r\n",
    }
    for code, sent in cases.items():
        status, headers, body = raw_request(served.url, sent)
        assert status.startswith(f"HTTP/1.1 {code} "), (code, status)
        assert headers["Content-Security-Policy"] == CSP and headers["Cache-Control"] == "no-store"
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert '<html lang="ja"' in body and "<h1>" in body, body[:300]
    assert "長すぎる" in raw_request(served.url, cases["414"])[2]
