"""Email to citizens: one plain-text Japanese message per outbox row, handed to the city's SMTP server.

The only peer this module talks to is `SmtpConfig.host:port` (the relay the city configures): no MX
look-up, no other server. Everything that can be checked without the network (recipient, subject,
sender settings, TLS settings) is checked before connecting. Errors come out as `DeliveryError`: a
short English reason with the SMTP code, never the address or the text of the message.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from appliance.clock import TOKYO
from appliance.notify import DeliveryError

SECURITY_MODES = ("none", "starttls", "tls")

# email.policy.SMTP (CRLF, folding at 78 columns, RFC 2047 encoded headers) with 7-bit bodies: under
# the default cte_type="8bit", set_content() would send short Japanese lines as raw 8-bit UTF-8, which
# is only legal through relays that all announce 8BITMIME. With "7bit" the email package picks base64
# or quoted-printable, whichever is shorter, and the message is legal over any relay.
POLICY = email_policy.SMTP.clone(cte_type="7bit")

_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
# dot-atom, plus the consecutive and trailing dots of old Japanese mobile addresses (taro..a.@docomo.ne.jp)
# that carriers issued for years and relays still deliver.
_LOCAL_PART = re.compile(rf"[{_ATEXT}][{_ATEXT}.]*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")
# CR, LF and the other characters that end or break a header line (str.splitlines() breaks on them).
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # "none" | "starttls" | "tls" (implicit TLS, usually 465)
    username: str = ""  # AUTH only when set; never over "none" unless the host is loopback
    password: str = ""
    mail_from: str = ""
    reply_to: str = ""
    from_name: str = ""  # e.g. "デモ市 市民課"
    timeout_s: float = 20.0
    verify_tls: bool = True  # False only for explicit test or lab configurations
    ca_file: str = ""  # a city CA bundle for an internal relay (replaces the system store)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    message_id: str  # deterministic per outbox message, e.g. "<outbox-123.4@madoguchi.local>"


def normalize_address(address: str) -> str | None:
    """The address as it goes on the wire (an internationalised domain in its ASCII form), or None when
    it is not exactly one plain addr-spec: no display name, no comments, no whitespace, no line breaks,
    an ASCII local part and a domain of at least two labels."""
    if not isinstance(address, str) or len(address) > 254 or address.count("@") != 1:
        return None
    local, domain = address.split("@")
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        return None
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return f"{local}@{domain}"


def build_message(email: Email, config: SmtpConfig, now: datetime.datetime) -> EmailMessage:
    """The message as it will be sent; raises DeliveryError (permanent) for anything that cannot be."""
    to = normalize_address(email.to)
    if to is None:
        raise DeliveryError("invalid recipient", temporary=False)
    if not isinstance(email.subject, str) or _LINE_BREAKING.search(email.subject):
        raise DeliveryError("invalid subject", temporary=False)
    if not _MESSAGE_ID.fullmatch(email.message_id or ""):
        raise DeliveryError("invalid message id", temporary=False)
    mail_from, reply_to = _sender(config)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")

    msg = EmailMessage(policy=POLICY)
    try:
        msg["From"] = Address(display_name=config.from_name, addr_spec=mail_from)
        msg["To"] = to
        if reply_to:
            msg["Reply-To"] = reply_to
        msg["Subject"] = email.subject
        msg["Date"] = format_datetime(now.astimezone(TOKYO))
        msg["Message-ID"] = email.message_id
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(email.body, charset="utf-8")
        msg.as_bytes()  # everything encodable (no lone surrogates), before any connection
    except (ValueError, TypeError, UnicodeError) as exc:
        raise DeliveryError("message not encodable", temporary=False) from exc
    return msg


def send(email: Email, config: SmtpConfig, now: datetime.datetime) -> str:
    """Hand one message to the configured server; returns its reply to DATA (e.g. "250 2.0.0 Ok: queued
    as 4F1A"), for the log. Raises DeliveryError: temporary for network trouble and 4xx, permanent for
    5xx, refused credentials, a server without the TLS asked for, and invalid messages or settings."""
    msg = build_message(email, config, now)
    to = normalize_address(email.to)
    mail_from, _ = _sender(config)
    _check_connection_settings(config)
    context = _tls_context(config) if config.security != "none" else None
    payload = msg.as_bytes(policy=POLICY)  # CRLF line endings; smtplib adds dot-stuffing
    try:
        with _session(config, context, local_hostname=_helo_name(mail_from)) as smtp:
            if config.username:
                _login(smtp, config)
            options = [f"SIZE={len(payload)}"] if smtp.has_extn("size") else []
            code, _ = smtp.mail(mail_from, options)
            if code != 250:
                raise DeliveryError(f"sender refused ({code})", temporary=_temporary(code))
            code, _ = smtp.rcpt(to)
            if code not in (250, 251):
                raise DeliveryError(f"recipient refused ({code})", temporary=_temporary(code))
            code, reply = smtp.data(payload)
            if code != 250:
                raise DeliveryError(f"message refused ({code})", temporary=_temporary(code))
            return _reply_text(code, reply)
    except DeliveryError:
        raise
    except smtplib.SMTPServerDisconnected as exc:  # smtplib turns a read timeout into this too
        reason = "timeout" if isinstance(exc.__context__, TimeoutError) else "connection closed by server"
        raise DeliveryError(reason, temporary=True) from exc
    except smtplib.SMTPResponseException as exc:  # greeting, EHLO, AUTH, or DATA answered without 354
        code = exc.smtp_code
        raise DeliveryError(f"{_stage(exc)} ({code})", temporary=_temporary(code)) from exc
    except smtplib.SMTPException as exc:  # e.g. no AUTH mechanism in common
        raise DeliveryError("SMTP protocol error", temporary=False) from exc
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError("TLS certificate verification failed", temporary=False) from exc
    except ssl.SSLEOFError as exc:
        raise DeliveryError("TLS connection closed", temporary=True) from exc
    except ssl.SSLError as exc:  # no common protocol or cipher, plain server on a TLS port, ...
        raise DeliveryError("TLS handshake failed", temporary=False) from exc
    except TimeoutError as exc:
        raise DeliveryError("timeout", temporary=True) from exc
    except ConnectionRefusedError as exc:
        raise DeliveryError("connection refused", temporary=True) from exc
    except OSError as exc:  # unreachable network, name resolution, reset connection
        raise DeliveryError("connection failed", temporary=True) from exc


def _sender(config: SmtpConfig) -> tuple[str, str]:
    mail_from = normalize_address(config.mail_from)
    if mail_from is None or not mail_from.isascii():
        raise DeliveryError("invalid mail_from setting", temporary=False)
    reply_to = ""
    if config.reply_to:
        reply_to = normalize_address(config.reply_to) or ""
        if not reply_to:
            raise DeliveryError("invalid reply_to setting", temporary=False)
    if _LINE_BREAKING.search(config.from_name):
        raise DeliveryError("invalid from_name setting", temporary=False)
    return mail_from, reply_to


def _check_connection_settings(config: SmtpConfig) -> None:
    if config.security not in SECURITY_MODES:
        raise DeliveryError("invalid SMTP security setting", temporary=False)
    if not config.host or not 0 < config.port < 65536:
        raise DeliveryError("SMTP host or port not configured", temporary=False)
    if config.username:
        if config.security == "none" and not _is_loopback(config.host):
            raise DeliveryError("refusing AUTH without TLS", temporary=False)
        # smtplib encodes credentials as ASCII
        if not (config.username.isascii() and config.password.isascii()):
            raise DeliveryError("SMTP credentials must be ASCII", temporary=False)


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=config.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError("CA file not usable", temporary=False) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _helo_name(mail_from: str) -> str:
    """The name for EHLO without asking DNS (smtplib's default, socket.getfqdn(), may): the machine's
    name if it is fully qualified, otherwise the sender's domain."""
    hostname = socket.gethostname()
    return hostname if "." in hostname.strip(".") else mail_from.rpartition("@")[2]


@contextmanager
def _session(
    config: SmtpConfig, context: ssl.SSLContext | None, local_hostname: str
) -> Iterator[smtplib.SMTP]:
    """A connected, greeted (and, as configured, TLS-protected) SMTP session; always closed afterwards.
    QUIT is polite, not part of the delivery: once DATA is accepted a failing QUIT changes nothing."""
    # Connect in the constructor: smtplib (3.11) takes the TLS server name only from there.
    if config.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, local_hostname=local_hostname, timeout=config.timeout_s, context=context
        )
    else:
        smtp = smtplib.SMTP(config.host, config.port, local_hostname=local_hostname, timeout=config.timeout_s)
    try:
        smtp.ehlo_or_helo_if_needed()
        if config.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise DeliveryError("server does not offer STARTTLS", temporary=False)
            code, _ = smtp.starttls(context=context)
            if code != 220:
                raise DeliveryError(f"STARTTLS refused ({code})", temporary=_temporary(code))
            smtp.ehlo_or_helo_if_needed()
        yield smtp
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


def _login(smtp: smtplib.SMTP, config: SmtpConfig) -> None:
    if not smtp.has_extn("auth"):
        raise DeliveryError("server does not offer AUTH", temporary=False)
    smtp.login(config.username, config.password)


def _stage(exc: smtplib.SMTPResponseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "authentication failed"  # 535 and the like permanent; 454 (temporary failure) not
    if isinstance(exc, smtplib.SMTPConnectError):
        return "greeting refused"
    if isinstance(exc, smtplib.SMTPHeloError):
        return "EHLO refused"
    if isinstance(exc, smtplib.SMTPDataError):
        return "message refused"
    return "SMTP error"


def _temporary(code: int) -> bool:
    return 400 <= code <= 499


def _reply_text(code: int, reply: bytes) -> str:
    text = " ".join(reply.decode("utf-8", "replace").split())
    return f"{code} {text}"[:200]
