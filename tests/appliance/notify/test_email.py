"""The email sender against a real SMTP server (aiosmtpd) on 127.0.0.1, on ports the kernel picks."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import re
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance.notify import DeliveryError
from appliance.notify.email import Email, SmtpConfig, build_message, send

# 01:00 UTC is 10:00 in Tokyo: the Date header must show the latter.
NOW = datetime.datetime(2026, 12, 1, 1, 0, tzinfo=datetime.UTC)
TO = "taro.yamada@example.jp"
SUBJECT = "【デモ市】ご予約を承りました（マイナンバーカード電子証明書更新）"
BODY = (
    "山田 太郎 様\n\n"
    "デモ市 市民課です。次の日時でご予約を承りました。\n"
    "日時：2026年12月10日（木）10:00～10:30\n"
    "場所：デモ市役所 本庁舎1階 市民課 ③番窓口\n"
    "予約番号：A-1234\n"
)
FROM_NAME = "デモ市 市民課"
MESSAGE_ID = "<outbox-123.4@madoguchi.local>"
USER, PASSWORD = "madoguchi", "correct horse battery"


# --- a real SMTP server on loopback -------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # the DATA section as it came over the wire (dot-unstuffed)
    tls_version: str | None
    authenticated: bool | None


class Recorder:
    """An aiosmtpd handler that records what it is given and answers MAIL, RCPT, DATA or QUIT with the
    reply in `replies` when one is set there."""

    def __init__(self, replies: dict[str, str] | None = None):
        self.replies = replies or {}
        self.received: list[Received] = []
        self.quits = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if "MAIL" in self.replies:
            return self.replies["MAIL"]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "RCPT" in self.replies:
            return self.replies["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if "DATA" in self.replies:
            return self.replies["DATA"]
        tls = server.transport.get_extra_info("ssl_object")
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                tls.version() if tls else None,
                session.authenticated,
            )
        )
        return "250 2.0.0 Ok: queued as 4F1A"

    async def handle_QUIT(self, server, session, envelope):
        self.quits += 1
        return self.replies.get("QUIT", "221 Bye")


class LoopbackController(Controller):
    """aiosmtpd's Controller on 127.0.0.1, port 0: the kernel picks a free port, read back once bound,
    so tests running in parallel never collide."""

    def __init__(self, handler, **smtp_parameters):
        super().__init__(handler, hostname="127.0.0.1", port=0, **smtp_parameters)

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Authenticator:
    def __init__(self):
        self.seen: list[tuple[str, bytes, bytes]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.seen.append((mechanism, auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 235 or 535 itself


@pytest.fixture
def smtp_server():
    """start(replies=None, **aiosmtpd SMTP parameters) -> (controller, recorder); stopped afterwards."""
    started = []

    def start(replies=None, **smtp_parameters):
        recorder = Recorder(replies)
        controller = LoopbackController(recorder, **smtp_parameters)
        controller.start()
        started.append(controller)
        return controller, recorder

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def listener():
    """A bare listening socket: a client's connect() lands in its backlog, so accept() proves whether
    anything connected."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.3)
    yield sock
    sock.close()


def assert_nothing_connected(sock):
    with pytest.raises(TimeoutError):
        sock.accept()


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A test CA (self-signed) and a server certificate for 127.0.0.1/localhost signed by it, made here."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    end = start + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "madoguchi test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    return {"ca_file": str(ca_file), "server_context": server_context}


def config_for(port: int, **overrides) -> SmtpConfig:
    values = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "mail_from": "noreply@city.example.jp",
        "from_name": FROM_NAME,
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return SmtpConfig(**values)


def notice(**overrides) -> Email:
    values = {"to": TO, "subject": SUBJECT, "body": BODY, "message_id": MESSAGE_ID}
    values.update(overrides)
    return Email(**values)


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def mime_text(text: str) -> str:
    """Text as a MIME text/plain part carries it: CRLF line breaks, ending with one."""
    return text.rstrip("\n").replace("\n", "\r\n") + "\r\n"


# --- the message ----------------------------------------------------------------------------------


def test_japanese_notice_arrives_intact(smtp_server):
    """A Japanese notice sent in the clear arrives with subject, body and From name decoded exactly,
    charset utf-8, the given Message-ID, a JST Date, Reply-To and Auto-Submitted; every header is ASCII
    (RFC 2047), every line ends in CRLF; the envelope is mail_from -> recipient; QUIT is sent; and
    send() returns the server's reply to DATA."""
    controller, recorder = smtp_server()
    config = config_for(controller.port, reply_to="shiminka@city.example.jp")

    reply = send(notice(), config, NOW)

    assert reply == "250 2.0.0 Ok: queued as 4F1A"
    [received] = recorder.received
    assert (received.mail_from, received.rcpt_tos) == ("noreply@city.example.jp", [TO])
    assert recorder.quits == 1
    assert re.search(rb"(?<!\r)\n|\r(?!\n)", received.raw) is None, "bare LF or CR on the wire"
    header_block = received.raw.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()
    assert b"=?utf-8?" in header_block  # Subject and From name as RFC 2047 encoded words
    msg = parse(received.raw)
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == FROM_NAME
    assert msg["From"].addresses[0].addr_spec == "noreply@city.example.jp"
    assert msg["To"] == TO
    assert msg["Reply-To"] == "shiminka@city.example.jp"
    assert msg["Message-ID"] == MESSAGE_ID
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"] == "Tue, 01 Dec 2026 10:00:00 +0900"
    assert msg["Date"].datetime == NOW
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] in ("base64", "quoted-printable")
    assert msg.get_content() == mime_text(BODY)


def test_build_message_without_optional_headers():
    """Without reply_to and from_name the message has no Reply-To and a bare From address; the Date is
    in JST whatever zone `now` is given in."""
    config = config_for(25, from_name="")
    msg = parse(
        build_message(
            notice(), config, NOW.astimezone(datetime.timezone(-datetime.timedelta(hours=5)))
        ).as_bytes()
    )
    assert "Reply-To" not in msg
    assert msg["From"] == "noreply@city.example.jp"
    assert msg["Date"].endswith("+0900")


def test_long_lines_are_encoded_legally(smtp_server):
    """A 1000-character Japanese line, a 1000-character ASCII line and a 300-character subject go out
    with no wire line over 998 octets (and headers folded within 78), and decode back exactly."""
    controller, recorder = smtp_server()
    body = "ご案内：" + "あ" * 1000 + "\n" + "https://city.example.jp/" + "x" * 1000 + "\n.\n..\n"
    subject = "【デモ市】" + "予約内容の変更について" * 28
    send(notice(subject=subject, body=body), config_for(controller.port), NOW)

    [received] = recorder.received
    lines = received.raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    header_lines = received.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert max(len(line) for line in header_lines) <= 78
    msg = parse(received.raw)
    assert msg["Subject"] == subject
    assert msg.get_content() == mime_text(body)


@pytest.mark.parametrize(
    "address, on_the_wire",
    [
        ("taro..yamada.@docomo.ne.jp", "taro..yamada.@docomo.ne.jp"),  # old Japanese mobile address
        ("hanako@例え.jp", "hanako@xn--r8jz45g.jp"),  # internationalised domain, sent as IDNA
    ],
)
def test_unusual_but_deliverable_recipients(smtp_server, address, on_the_wire):
    """Addresses Japanese citizens really have are accepted: an old carrier address with consecutive
    and trailing dots, and a Japanese domain (sent in its ASCII form)."""
    controller, recorder = smtp_server()
    send(notice(to=address), config_for(controller.port), NOW)
    [received] = recorder.received
    assert received.rcpt_tos == [on_the_wire]
    assert parse(received.raw)["To"] == on_the_wire


# --- refused before connecting ----------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "",
        "taro",
        "taro@",
        "@example.jp",
        "taro@example",
        "taro@example..jp",
        "taro@-example.jp",
        "taro@@example.jp",
        "taro@example.jp, hanako@example.jp",
        "山田 <taro@example.jp>",
        "<taro@example.jp>",
        "(comment)taro@example.jp",
        " taro@example.jp",
        "taro@example.jp\r\nBcc: everyone@example.jp",
        "taro@example.jp\n",
        "たろう@example.jp",
        "taro＠example.jp",
        ".taro@example.jp",
        "x" * 65 + "@example.jp",
    ],
)
def test_invalid_recipient_refused_before_connecting(listener, address):
    """An address that is not exactly one plain addr-spec with a domain is refused permanently, and the
    server is never contacted."""
    config = config_for(listener.getsockname()[1], timeout_s=1.0)
    with pytest.raises(DeliveryError) as caught:
        send(notice(to=address), config, NOW)
    assert (caught.value.reason, caught.value.temporary) == ("invalid recipient", False)
    assert_nothing_connected(listener)


@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r", "\u2028", "\x85"])
def test_line_break_in_subject_refused_before_connecting(listener, line_break):
    """A subject with CR, LF or another line-breaking character cannot inject headers: it is refused
    permanently and the server is never contacted."""
    config = config_for(listener.getsockname()[1], timeout_s=1.0)
    subject = f"ご予約{line_break}Bcc: everyone@example.jp"
    with pytest.raises(DeliveryError) as caught:
        send(notice(subject=subject), config, NOW)
    assert (caught.value.reason, caught.value.temporary) == ("invalid subject", False)
    assert_nothing_connected(listener)


def test_no_credentials_in_the_clear_to_another_host(monkeypatch):
    """AUTH over an unencrypted connection is refused unless the server is on loopback: the password is
    never sent, no connection is even attempted."""
    attempts = []
    monkeypatch.setattr(smtplib.SMTP, "connect", lambda self, *args, **kwargs: attempts.append(args))
    config = config_for(25, host="192.0.2.10", username=USER, password=PASSWORD)
    with pytest.raises(DeliveryError) as caught:
        send(notice(), config, NOW)
    assert (caught.value.reason, caught.value.temporary) == ("refusing AUTH without TLS", False)
    assert attempts == []


# --- TLS ----------------------------------------------------------------------------------------


def test_starttls_verified_with_city_ca(smtp_server, tls):
    """STARTTLS against a server that requires it, verified against the city CA file (hostname
    included): the message travels inside TLS 1.2 or newer."""
    controller, recorder = smtp_server(tls_context=tls["server_context"], require_starttls=True)
    send(notice(), config_for(controller.port, security="starttls", ca_file=tls["ca_file"]), NOW)
    [received] = recorder.received
    assert received.tls_version in ("TLSv1.2", "TLSv1.3")
    assert parse(received.raw)["Subject"] == SUBJECT


def test_starttls_without_verification_for_lab_configs(smtp_server, tls):
    """verify_tls=False (an explicit lab setting) accepts a certificate no CA vouches for."""
    controller, recorder = smtp_server(tls_context=tls["server_context"], require_starttls=True)
    send(notice(), config_for(controller.port, security="starttls", verify_tls=False), NOW)
    [received] = recorder.received
    assert received.tls_version in ("TLSv1.2", "TLSv1.3")


def test_untrusted_certificate_is_permanent_and_sends_nothing(smtp_server, tls):
    """With verification on and no CA that vouches for the server, the handshake fails: permanent, and
    no message is handed over."""
    controller, recorder = smtp_server(tls_context=tls["server_context"], require_starttls=True)
    with pytest.raises(DeliveryError) as caught:
        send(notice(), config_for(controller.port, security="starttls"), NOW)
    assert (caught.value.reason, caught.value.temporary) == ("TLS certificate verification failed", False)
    assert recorder.received == []


def test_starttls_not_offered_is_permanent(smtp_server):
    """security="starttls" against a server without STARTTLS does not fall back to plain text."""
    controller, recorder = smtp_server()
    with pytest.raises(DeliveryError) as caught:
        send(notice(), config_for(controller.port, security="starttls", verify_tls=False), NOW)
    assert (caught.value.reason, caught.value.temporary) == ("server does not offer STARTTLS", False)
    assert recorder.received == []
    assert recorder.quits == 1


def test_implicit_tls(smtp_server, tls):
    """security="tls" speaks TLS from the first byte (SMTPS, port 465 style), verified with the CA file."""
    controller, recorder = smtp_server(ssl_context=tls["server_context"])
    send(notice(), config_for(controller.port, security="tls", ca_file=tls["ca_file"]), NOW)
    [received] = recorder.received
    assert received.tls_version in ("TLSv1.2", "TLSv1.3")
    assert parse(received.raw).get_content() == mime_text(BODY)


# --- AUTH -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism, other", [("LOGIN", "PLAIN"), ("PLAIN", "LOGIN")])
def test_auth_after_starttls(smtp_server, tls, mechanism, other):
    """With a username set, the sender authenticates (LOGIN or PLAIN, whichever the server offers) over
    STARTTLS before MAIL; the server requires AUTH, so delivery proves it."""
    authenticator = Authenticator()
    controller, recorder = smtp_server(
        tls_context=tls["server_context"],
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_exclude_mechanism=[other],
    )
    config = config_for(
        controller.port, security="starttls", ca_file=tls["ca_file"], username=USER, password=PASSWORD
    )
    send(notice(), config, NOW)
    assert authenticator.seen == [(mechanism, USER.encode(), PASSWORD.encode())]
    [received] = recorder.received
    assert received.authenticated is True


def test_wrong_password_is_permanent(smtp_server, tls):
    """Refused credentials (535) are a permanent failure, and nothing is handed over."""
    controller, recorder = smtp_server(
        tls_context=tls["server_context"],
        require_starttls=True,
        authenticator=Authenticator(),
        auth_required=True,
    )
    config = config_for(
        controller.port, security="starttls", ca_file=tls["ca_file"], username=USER, password="wrong"
    )
    with pytest.raises(DeliveryError) as caught:
        send(notice(), config, NOW)
    assert (caught.value.reason, caught.value.temporary) == ("authentication failed (535)", False)
    assert recorder.received == []


def test_auth_in_the_clear_allowed_on_loopback(smtp_server):
    """A relay on the box itself (127.0.0.1) may take AUTH without TLS."""
    authenticator = Authenticator()
    controller, recorder = smtp_server(
        authenticator=authenticator, auth_required=True, auth_require_tls=False
    )
    send(notice(), config_for(controller.port, username=USER, password=PASSWORD), NOW)
    assert len(authenticator.seen) == 1
    assert len(recorder.received) == 1


# --- refusals and network trouble -----------------------------------------------------------------


@pytest.mark.parametrize(
    "replies, reason, temporary",
    [
        ({"MAIL": "451 4.3.0 Try again later"}, "sender refused (451)", True),
        ({"RCPT": f"450 4.2.1 <{TO}>: mailbox busy"}, "recipient refused (450)", True),
        ({"RCPT": f"550 5.1.1 <{TO}>: Recipient address rejected"}, "recipient refused (550)", False),
        ({"DATA": "451 4.7.1 Greylisted, try again"}, "message refused (451)", True),
        ({"DATA": f"554 5.7.1 Message to {TO} rejected"}, "message refused (554)", False),
    ],
)
def test_refusals_map_to_temporary_or_permanent(smtp_server, replies, reason, temporary):
    """4xx from the server is temporary, 5xx permanent; the reason names the code and never the
    recipient (even when the server's text does); the session is still closed with QUIT."""
    controller, recorder = smtp_server(replies)
    with pytest.raises(DeliveryError) as caught:
        send(notice(), config_for(controller.port), NOW)
    assert (caught.value.reason, caught.value.temporary) == (reason, temporary)
    assert TO not in str(caught.value) and "taro" not in caught.value.reason
    assert recorder.received == []
    assert recorder.quits == 1


def test_failing_quit_after_accepted_data_is_success(smtp_server):
    """Once DATA is accepted the message is delivered: an odd reply to QUIT must not turn it into an
    error (the outbox would send it twice)."""
    controller, recorder = smtp_server({"QUIT": "554 5.0.0 go away"})
    assert send(notice(), config_for(controller.port), NOW).startswith("250 ")
    assert len(recorder.received) == 1


def test_connection_refused_is_temporary():
    """Nothing listening on the port: temporary (the relay may be restarting)."""
    with socket.socket() as bound:  # bound but not listening: connections to it are refused
        bound.bind(("127.0.0.1", 0))
        config = config_for(bound.getsockname()[1])
        with pytest.raises(DeliveryError) as caught:
            send(notice(), config, NOW)
    assert (caught.value.reason, caught.value.temporary) == ("connection refused", True)


def test_silent_server_times_out_temporarily(listener):
    """A server that accepts the connection but never greets: after timeout_s, a temporary failure."""
    config = config_for(listener.getsockname()[1], timeout_s=0.5)
    with pytest.raises(DeliveryError) as caught:
        send(notice(), config, NOW)
    assert (caught.value.reason, caught.value.temporary) == ("timeout", True)


def test_server_hanging_up_is_temporary(listener):
    """A server that closes the connection at once (SMTPServerDisconnected): temporary."""

    def hang_up():
        connection, _ = listener.accept()
        connection.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    with pytest.raises(DeliveryError) as caught:
        send(notice(), config_for(listener.getsockname()[1], timeout_s=5.0), NOW)
    thread.join(5)
    assert (caught.value.reason, caught.value.temporary) == ("connection closed by server", True)
