"""SMS gateway adapters against a real HTTP(S) server on 127.0.0.1 that plays the gateway: wire formats,
how failures are classified, number and length checks, and delivery receipts."""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import socket
import ssl
import threading
import traceback
import urllib.parse
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance.notify import DeliveryError
from appliance.notify.sms import Receipt, Sms, SmsConfig, SmsResult, mobile_number, parse_receipt, send

TOKEN = "tok-CANARY-7f3a9c"
NUMBER = "09011112222"
BODY = "【テスト市】ご予約を受け付けました。予約番号 A-123 12月10日(木)10:00 本庁舎1階 窓口"
REFERENCE = "outbox-42-sms"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"id": "gw-1", "status": "100", "messageId": "agg-1"}'
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: Message  # case-insensitive look-ups
    body: bytes


class Gateway:
    """A gateway on a free loopback port: records every request, answers the queued replies in order
    and then the default one."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[Received] = []
        self.replies: list[Reply] = []
        self.default = Reply()
        self.released = threading.Event()  # ends a slow answer early at teardown
        handler = type("Handler", (_Handler,), {"gateway": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}/sms/send"

    def answer(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    gateway: Gateway

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        gateway = self.gateway
        gateway.requests.append(Received(self.path, self.headers, body))
        reply = gateway.replies.pop(0) if gateway.replies else gateway.default
        if reply.delay:
            gateway.released.wait(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up (timeout test)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def gateway():
    server = Gateway()
    yield server
    server.close()


@pytest.fixture
def other_gateway():
    server = Gateway()
    yield server
    server.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "madoguchi test gateway")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "gateway.pem", folder / "gateway.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_gateway(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = Gateway(tls=context)
    yield server
    server.close()


def json_config(url: str, **kw) -> SmsConfig:
    return SmsConfig("http-json", url, token=TOKEN, **{"timeout_s": 5.0, **kw})


def aggregator_config(url: str, **kw) -> SmsConfig:
    return SmsConfig("aggregator", url, token=TOKEN, **{"timeout_s": 5.0, **kw})


def message(to: str = NUMBER, body: str = BODY, reference: str = REFERENCE) -> Sms:
    return Sms(to=to, body=body, reference=reference)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fails(sms: Sms, config: SmsConfig) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        send(sms, config)
    return caught.value


def assert_no_secrets(text: str) -> None:
    for secret in (TOKEN, NUMBER, "+81" + NUMBER[1:], "ご予約", BODY):
        assert secret not in text


# --- http-json -------------------------------------------------------------------------------------


def test_json_request_carries_utf8_json_auth_and_reference(gateway):
    """http-json posts one UTF-8 JSON object {to, body, sender, reference} with the declared content
    type, the token in the Authorization header and the reference as Idempotency-Key; the Japanese text
    arrives unchanged and the gateway's id comes back."""
    result = send(message(), json_config(gateway.url, sender="TESTCITY"))
    assert result == SmsResult("gw-1", 1)
    [request] = gateway.requests
    assert request.path == "/sms/send"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Idempotency-Key"] == REFERENCE
    assert json.loads(request.body.decode("utf-8")) == {
        "to": NUMBER,
        "body": BODY,
        "sender": "TESTCITY",
        "reference": REFERENCE,
    }
    assert BODY.encode("utf-8") in request.body  # sent as UTF-8, as declared


def test_json_field_mapping_custom_auth_header_and_e164(gateway):
    """fields renames the JSON keys (also the reply's id key), auth_header/auth_scheme shape the token
    header, number_format e164 sends +81..., and no sender key is sent when none is configured."""
    gateway.default = Reply(body=b'{"messageId": 98765}')
    config = json_config(
        gateway.url,
        auth_header="X-Api-Key",
        auth_scheme="",
        number_format="e164",
        fields={"to": "msisdn", "body": "text", "reference": "client_ref", "id": "messageId"},
    )
    assert send(message(), config).gateway_id == "98765"
    [request] = gateway.requests
    assert request.headers["X-Api-Key"] == TOKEN
    assert "Authorization" not in request.headers
    assert json.loads(request.body) == {"msisdn": "+819011112222", "text": BODY, "client_ref": REFERENCE}


def test_json_reply_without_id_is_accepted_with_empty_gateway_id(gateway):
    """A 2xx whose JSON object has no id (or an empty body) is an accepted message with gateway_id ""."""
    gateway.answer(Reply(body=b"{}"), Reply(status=202, body=b""))
    assert send(message(), json_config(gateway.url)) == SmsResult("", 1)
    assert send(message(), json_config(gateway.url)) == SmsResult("", 1)


def test_retry_sends_the_same_reference(gateway):
    """After a temporary failure the retry posts the identical request: the same reference in the body
    and the Idempotency-Key, so the gateway can drop a duplicate."""
    gateway.answer(Reply(status=500, body=b'{"error": "busy"}'), Reply(body=b'{"id": "gw-9"}'))
    config = json_config(gateway.url)
    assert fails(message(), config).temporary
    assert send(message(), config).gateway_id == "gw-9"
    first, second = gateway.requests
    assert first.body == second.body
    assert json.loads(first.body)["reference"] == json.loads(second.body)["reference"] == REFERENCE
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == REFERENCE


@pytest.mark.parametrize(
    ("status", "temporary"),
    [
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (422, False),
    ],
)
def test_http_status_classification_without_secrets(gateway, caplog, status, temporary):
    """408/429/5xx are temporary, 400/401/403/404/422 permanent; the reason names the status code and
    never the token, the number or the text, even when the gateway's error body echoes them."""
    echo = json.dumps({"error": f"bad {NUMBER} {TOKEN} {BODY}"}, ensure_ascii=False).encode()
    gateway.default = Reply(status=status, body=echo)
    caplog.set_level(logging.DEBUG)
    error = fails(message(), json_config(gateway.url))
    assert error.temporary is temporary
    assert str(status) in error.reason
    assert_no_secrets(error.reason)
    assert_no_secrets("".join(traceback.format_exception(error)))
    assert_no_secrets(caplog.text)


def test_slow_answer_beyond_timeout_is_temporary(gateway):
    """A gateway that answers after the timeout: a temporary "timed out" failure."""
    gateway.default = Reply(delay=5.0)
    error = fails(message(), json_config(gateway.url, timeout_s=0.3))
    assert error.temporary and error.reason == "timed out"
    assert len(gateway.requests) == 1


def test_closed_port_is_temporary():
    """Nothing listening on the gateway's port: a temporary connection failure."""
    error = fails(message(), json_config(f"http://127.0.0.1:{closed_port()}/send"))
    assert error.temporary and error.reason == "connection failed"


@pytest.mark.parametrize(
    "reply", [b"<html>Service Unavailable</html>", b'{"id": ', b"[1, 2]", b'{"id": {"nested": 1}}']
)
def test_garbage_on_2xx_is_temporary(gateway, reply):
    """A 2xx whose body is not a JSON object with a readable id: temporary (the retry's reference lets
    the gateway drop a duplicate)."""
    gateway.default = Reply(body=reply)
    error = fails(message(), json_config(gateway.url))
    assert error.temporary and error.reason == "unreadable gateway reply"


def test_redirect_is_not_followed(gateway, other_gateway):
    """The box talks only to the configured URL: a 302 elsewhere is a permanent failure and the other
    server receives nothing."""
    gateway.default = Reply(status=302, body=b"", headers={"Location": other_gateway.url})
    error = fails(message(), json_config(gateway.url))
    assert not error.temporary and "302" in error.reason
    assert other_gateway.requests == []


def test_environment_proxy_is_ignored(gateway, monkeypatch):
    """A proxy set in the environment is not used: the request still goes straight to the gateway (with
    urllib's defaults it would go to the dead proxy and fail)."""
    dead = f"http://127.0.0.1:{closed_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert send(message(), json_config(gateway.url)).gateway_id == "gw-1"
    assert len(gateway.requests) == 1


# --- HTTPS ------------------------------------------------------------------------------------------


def test_https_is_verified_and_ca_file_trusts_a_private_ca(tls_gateway, certificate, tmp_path):
    """HTTPS is verified: a certificate the system does not trust is a permanent failure; with ca_file
    naming it the message goes through; an unreadable ca_file is a permanent failure."""
    error = fails(message(), json_config(tls_gateway.url))
    assert not error.temporary and error.reason == "TLS certificate not trusted"
    assert tls_gateway.requests == []
    assert send(message(), json_config(tls_gateway.url, ca_file=str(certificate[0]))).gateway_id == "gw-1"
    assert json.loads(tls_gateway.requests[0].body)["body"] == BODY
    error = fails(message(), json_config(tls_gateway.url, ca_file=str(tmp_path / "missing.pem")))
    assert not error.temporary and error.reason == "CA file not readable"


# --- aggregator -------------------------------------------------------------------------------------


def test_aggregator_request_is_utf8_form_with_token_field(gateway):
    """aggregator posts a UTF-8 form (token, mobilenumber, smstext, clientTag, sender) with the declared
    content type and no auth header; the Japanese text round-trips and messageId comes back."""
    result = send(message(), aggregator_config(gateway.url, sender="TESTCITY"))
    assert result == SmsResult("agg-1", 1)
    [request] = gateway.requests
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    assert "Authorization" not in request.headers
    form = urllib.parse.parse_qs(request.body.decode("ascii"), strict_parsing=True, encoding="utf-8")
    assert form == {
        "token": [TOKEN],
        "mobilenumber": [NUMBER],
        "smstext": [BODY],
        "clientTag": [REFERENCE],
        "sender": ["TESTCITY"],
    }


def test_aggregator_retry_sends_the_same_client_tag(gateway):
    """A busy aggregator (status 5xx) is temporary and the retry carries the same clientTag."""
    gateway.answer(Reply(body=b'{"status": "503"}'), Reply(body=b'{"status": 100, "messageId": "m-2"}'))
    config = aggregator_config(gateway.url)
    assert fails(message(), config).temporary
    assert send(message(), config).gateway_id == "m-2"
    tags = [urllib.parse.parse_qs(r.body.decode("ascii"))["clientTag"] for r in gateway.requests]
    assert tags == [[REFERENCE], [REFERENCE]]


@pytest.mark.parametrize(
    ("reply", "temporary", "reason"),
    [
        ({"status": "201"}, False, "gateway refused the request (status 201)"),
        ({"status": 204, "message": "invalid number"}, False, "gateway refused the request (status 204)"),
        ({"status": "500"}, True, "gateway busy (status 500)"),
        ({"status": 503}, True, "gateway busy (status 503)"),
        ({"status": "999"}, True, "unexpected gateway status (999)"),
        ({"status": NUMBER}, True, "unexpected gateway status"),
        ({"messageId": "m-1"}, True, "unexpected gateway status"),
    ],
)
def test_aggregator_status_table(gateway, reply, temporary, reason):
    """The aggregator's status codes map as documented: 2xx-like refused (permanent), 5xx-like busy
    (temporary), anything else temporary; a long status is never echoed."""
    gateway.default = Reply(body=json.dumps(reply).encode())
    error = fails(message(), aggregator_config(gateway.url))
    assert (error.temporary, error.reason) == (temporary, reason)


@pytest.mark.parametrize(
    ("reply", "temporary"),
    [
        (Reply(status=429), True),
        (Reply(status=500), True),
        (Reply(status=401), False),
        (Reply(body=b"OK"), True),
        (Reply(body=b""), True),
    ],
)
def test_aggregator_http_failures(gateway, reply, temporary):
    """aggregator classifies HTTP statuses like http-json, and a 2xx without a JSON status is temporary."""
    gateway.default = reply
    assert fails(message(), aggregator_config(gateway.url)).temporary is temporary


# --- numbers and texts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("09012345678", "09012345678"),
        ("090-1234-5678", "09012345678"),
        ("+81 90 1234 5678", "09012345678"),
        ("+81-80-1234-5678", "08012345678"),
        ("０７０－１２３４－５６７８", "07012345678"),
        ("0586-12-3456", None),  # landline (Ichinomiya)
        ("03-1234-5678", None),
        ("050-1234-5678", None),  # IP phone
        ("0120-123-456", None),
        ("0901234567", None),
        ("", None),
    ],
)
def test_mobile_number(raw, expected):
    """Only Japanese mobile numbers (070/080/090 + 8 digits) pass, normalised from what was typed."""
    assert mobile_number(raw) == expected


@pytest.mark.parametrize(
    ("to", "sent"), [("+81 90 1234 5678", "09012345678"), ("０９０１２３４５６７８", "09012345678")]
)
def test_send_normalises_the_number(gateway, to, sent):
    """+81 and full-width forms are sent as the gateway's domestic digits."""
    send(message(to=to), json_config(gateway.url))
    assert json.loads(gateway.requests[0].body)["to"] == sent


def test_landline_is_refused_before_sending(gateway):
    """A landline number is a permanent "not a mobile number" and nothing reaches the gateway."""
    error = fails(message(to="0586-12-3456"), json_config(gateway.url))
    assert (error.temporary, error.reason) == (False, "not a mobile number")
    assert gateway.requests == []


@pytest.mark.parametrize(("body", "chars"), [("あ" * 661, 661), ("😀" * 331, 662)])
def test_too_long_text_is_refused_before_sending(gateway, body, chars):
    """More than 660 SMS characters (an emoji counts two) is permanent and nothing is sent."""
    error = fails(message(body=body), aggregator_config(gateway.url))
    assert (error.temporary, error.reason) == (False, f"message too long ({chars} characters)")
    assert gateway.requests == []


def test_longest_text_and_empty_text(gateway):
    """Exactly 660 characters go out (10 parts); an empty or blank text is refused."""
    assert send(message(body="あ" * 660), json_config(gateway.url)).segments == 10
    for body in ("", "  \n"):
        error = fails(message(body=body), json_config(gateway.url))
        assert (error.temporary, error.reason) == (False, "empty message")
    assert len(gateway.requests) == 1


def test_segments_of_a_100_character_japanese_message(gateway):
    """A 100-character Japanese notice is billed as 2 parts (UCS-2: 67 per part); 70 characters is 1."""
    text = (
        "【テスト市】マイナンバーカード電子証明書更新のご予約を受け付けました。日時は十二月十日木曜日の午前十時から、"
        "場所は本庁舎一階の市民課窓口です。予約番号をお控えください。ご不明な点は市民課までお問い合わせください。"
    )[:100]
    assert len(text) == 100
    assert send(message(body=text), json_config(gateway.url)).segments == 2
    assert send(message(body=text[:70]), json_config(gateway.url)).segments == 1


# --- receipts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"reference": "r-1", "id": "gw-1", "status": "delivered"}, Receipt("r-1", "gw-1", "delivered", "")),
        ({"reference": "r-1", "id": 77, "status": "EXPIRED"}, Receipt("r-1", "77", "failed", "expired")),
        ({"reference": "r-1", "status": "undeliverable"}, Receipt("r-1", "", "failed", "undeliverable")),
        ({"id": "gw-2", "status": "failed"}, Receipt("", "gw-2", "failed", "failed")),
    ],
)
def test_json_receipts(payload, expected):
    """http-json receipts: reference, id and status become a final delivered/failed Receipt."""
    assert parse_receipt(json_config("https://sms.example.jp/send"), payload) == expected


def test_json_receipt_uses_field_mapping():
    """Renamed fields apply to receipts too."""
    config = json_config(
        "https://sms.example.jp/send",
        fields={"reference": "client_ref", "id": "messageId", "status": "state"},
    )
    receipt = parse_receipt(config, {"client_ref": "r-5", "messageId": "m-5", "state": "rejected"})
    assert receipt == Receipt("r-5", "m-5", "failed", "rejected")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"clientTag": "r-1", "messageId": "m-1", "status": "DELIVRD"},
            Receipt("r-1", "m-1", "delivered", ""),
        ),
        (
            {"clientTag": "r-1", "messageId": "m-1", "status": "UNDELIV"},
            Receipt("r-1", "m-1", "failed", "undeliverable"),
        ),
        ({"messageId": "m-1", "status": "expired"}, Receipt("", "m-1", "failed", "expired")),
        ({"clientTag": "r-1", "status": "REJECTD"}, Receipt("r-1", "", "failed", "rejected")),
    ],
)
def test_aggregator_receipts(payload, expected):
    """aggregator receipts: clientTag, messageId and the carrier state (DELIVRD, UNDELIV ...)."""
    assert parse_receipt(aggregator_config("https://sms.example.jp/send"), payload) == expected


@pytest.mark.parametrize("kind", ["http-json", "aggregator"])
@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"status": "delivered"},
        {"status": "DELIVRD"},
        {"reference": "r-1", "clientTag": "r-1", "status": "bogus"},
        {"reference": "r-1", "clientTag": "r-1"},
        {"reference": "r-1", "clientTag": "r-1", "status": 1},
        {"reference": ["r-1"], "clientTag": ["r-1"], "status": "delivered"},
        {"reference": "r-1", "clientTag": "r-1", "status": "sent"},
        {"reference": "r-1", "clientTag": "r-1", "status": "ENROUTE"},
        "reference=r-1&status=delivered",
    ],
)
def test_malformed_receipts(kind, payload):
    """A receipt without an id, with an unknown or interim status, a non-text field or not a mapping at
    all is a ValueError that does not quote the payload."""
    config = SmsConfig(kind, "https://sms.example.jp/send")
    with pytest.raises(ValueError) as caught:
        parse_receipt(config, payload)
    assert "r-1" not in str(caught.value)


# --- configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "smpp"},
        {"number_format": "international"},
        {"url": "ftp://sms.example.jp/send"},
        {"url": "http://sms.example.jp/send"},
        {"url": "https:///send"},
        {"fields": {"phone": "msisdn"}},
        {"fields": {"to": ""}},
        {"timeout_s": 0},
    ],
)
def test_unusable_configuration_is_refused(changes):
    """A configuration that cannot work is a ValueError when it is built (plain http only on loopback)."""
    with pytest.raises(ValueError):
        SmsConfig(**{"kind": "http-json", "url": "https://sms.example.jp/send", **changes})


def test_reprs_hide_secrets_and_empty_reference_is_a_bug(gateway):
    """The token, number and text never show in a repr (logs, tracebacks); a missing reference is a
    programming error (ValueError), not a delivery outcome, and nothing is sent."""
    assert TOKEN not in repr(json_config(gateway.url))
    assert_no_secrets(repr(message()))
    with pytest.raises(ValueError):
        send(message(reference=""), json_config(gateway.url))
    assert gateway.requests == []
