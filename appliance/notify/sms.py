"""SMS gateway adapters: hand one citizen's SMS to the gateway the city configures, and read the delivery
reports (receipts) that gateway posts back later. Standard library HTTP only (urllib): the box talks to
the configured URL and nowhere else (environment proxies are ignored, redirects are not followed).
Plain http:// is accepted for a loopback URL only (a local relay, tests); anything else must be https://,
verified with the default context, or against `ca_file` alone when one is set.

Before anything is sent: the number must be a Japanese mobile number (070/080/090 + 8 digits) and the
text non-empty and at most db.texts.SMS_MAX_CHARS (660) characters as counted by db.texts.sms_length;
otherwise a permanent DeliveryError and no request.

Wire format, kind "http-json" (a generic JSON gateway)
    POST <url>
    Content-Type: application/json; charset=utf-8
    Accept: application/json
    <auth_header>: <auth_scheme><token>              (only when a token is set; default "Authorization: Bearer ...")
    Idempotency-Key: <reference>
    {"to": "09012345678", "body": "...", "sender": "...", "reference": "..."}
        UTF-8 JSON, Japanese as is (not \\u-escaped); "sender" only when one is configured; "to" as
        number_format says (domestic 09012345678 or e164 +819012345678). `fields` renames the keys:
        to, body, sender, reference (request), id (reply), status (receipt), e.g. {"to": "msisdn"}.
    Reply 2xx with a JSON object: the message id is under "id" (or fields["id"]), a string or integer;
    no id or an empty body: accepted, gateway_id "". A 2xx whose body is not a JSON object: temporary
    (the same reference on the next try lets the gateway drop the duplicate).

Wire format, kind "aggregator" (the shape common to Japanese SMS aggregators)
    POST <url>
    Content-Type: application/x-www-form-urlencoded; charset=UTF-8
    Accept: application/json
    token=<token>&mobilenumber=09012345678&smstext=<UTF-8, percent-encoded>&clientTag=<reference>[&sender=<sender>]
        (the token travels in the form, no auth header; mobilenumber as number_format says, domestic digits
        by default)
    Reply 2xx with a JSON object {"status": "100", "messageId": "..."} (status a string or a number):
        100      accepted                                        -> SmsResult(messageId or "")
        200-299  request refused (token, number, text, contract)  -> permanent "gateway refused the request (status 2NN)"
        500-599  gateway busy, in maintenance or failing         -> temporary "gateway busy (status 5NN)"
        other, missing status, or a body that is not a JSON object -> temporary

HTTP outcomes, both kinds
    2xx                                    read the reply as above
    408, 425, 429, 5xx                     temporary "gateway answered HTTP N"
    401, 403                               permanent "gateway refused the credentials (HTTP N)"
    3xx (never followed)                   permanent "gateway redirected (HTTP N); configure its final URL"
    any other 4xx (400, 404, 409, 422 ...) permanent "gateway refused the message (HTTP N)"
    refused or reset connection, timeout   temporary ("connection failed", "timed out")
    TLS certificate not trusted            permanent "TLS certificate not trusted"
timeout_s bounds connecting and each read. Retry-After and similar hints are ignored: the outbox decides
when to try again.

Receipts (the gateway POSTs a delivery report to our webhook; pass its fields as a flat mapping)
    http-json:  {"reference": ..., "id": ..., "status": ...} (keys renamed by `fields` as above);
                status (any case): delivered -> delivered; failed, expired, undeliverable, undelivered,
                rejected -> failed (reason: that word, undelivered as "undeliverable").
    aggregator: {"clientTag": ..., "messageId": ..., "status": ...} with the carrier's (SMPP) state:
                DELIVRD -> delivered; UNDELIV -> failed "undeliverable"; EXPIRED -> failed "expired";
                REJECTD -> failed "rejected"; DELETED -> failed "deleted"; UNKNOWN -> failed "unknown".
    Either kind needs a status and at least one of reference / id (match on whichever is there). Any
    other status (including interim ones such as "sent", ACCEPTD or ENROUTE), a missing or non-text
    field, or a payload that is not a mapping: ValueError.

Reasons are short English strings from this module only: never the token, the number or the text.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from types import MappingProxyType

from appliance.notify import DeliveryError
from db.normalize import is_mobile, phone
from db.texts import SMS_MAX_CHARS, sms_length

KINDS = ("http-json", "aggregator")
NUMBER_FORMATS = ("domestic", "e164")
FIELD_NAMES = ("to", "body", "sender", "reference", "id", "status")  # logical names `fields` may rename
_REPLY_LIMIT = 64 * 1024  # bytes of a gateway reply read at most
_LOOPBACK_NAMES = ("localhost", "localhost.")


@dataclass(frozen=True)
class SmsConfig:
    kind: str  # "http-json" | "aggregator"
    url: str
    token: str = field(default="", repr=False)  # secret: never in repr, reasons or logs
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer "
    sender: str = ""
    number_format: str = "domestic"  # "domestic" 09012345678 | "e164" +819012345678
    fields: Mapping[str, str] = field(default_factory=dict)  # http-json: logical name -> JSON key
    timeout_s: float = 15.0
    ca_file: str = ""

    def __post_init__(self):
        """A configuration that cannot work is a ValueError when it is built (at start-up), not a
        failure of every message later."""
        if self.kind not in KINDS:
            raise ValueError(f"unknown SMS gateway kind {self.kind!r} (expected one of {', '.join(KINDS)})")
        if self.number_format not in NUMBER_FORMATS:
            raise ValueError(f"unknown SMS number format {self.number_format!r}")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the SMS gateway URL must be an http(s) URL with a host")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError("the SMS gateway URL must use https (plain http only for a loopback relay)")
        unknown = sorted(set(self.fields) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(f"unknown SMS field names {', '.join(unknown)} (allowed: {', '.join(FIELD_NAMES)})")
        if any(not isinstance(key, str) or not key for key in self.fields.values()):
            raise ValueError("SMS field keys must be non-empty strings")
        if not self.timeout_s > 0:
            raise ValueError("the SMS timeout must be positive")
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def key(self, name: str) -> str:
        """The gateway's key for a logical field name (http-json)."""
        return self.fields.get(name, name)


@dataclass(frozen=True)
class Sms:
    to: str = field(repr=False)  # as stored (digits, domestic); personal data, never in repr
    body: str = field(repr=False)
    reference: str  # our idempotency key for this message, the same on every retry


@dataclass(frozen=True)
class SmsResult:
    gateway_id: str  # the gateway's message id, "" when it gives none
    segments: int  # parts billed


@dataclass(frozen=True)
class Receipt:
    reference: str  # "" when the report carries only the gateway's id
    gateway_id: str  # "" when the report carries only our reference
    status: str  # "delivered" | "failed"
    reason: str  # "" when delivered


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mobile_number(raw: str) -> str | None:
    """A Japanese mobile number as domestic digits ('09012345678': 070/080/090 + 8 digits) from what was
    typed or stored (full-width digits, hyphens, +81 accepted), or None for anything else."""
    number = phone(raw)
    return number if number is not None and is_mobile(number) else None


def send(sms: Sms, config: SmsConfig) -> SmsResult:
    """Hand one SMS to the gateway. SmsResult when it accepted the message, else DeliveryError
    (temporary: try again later with the same reference; permanent: do not)."""
    if not sms.reference:
        raise ValueError("an SMS needs its reference (the outbox idempotency key)")
    number = mobile_number(sms.to)
    if number is None:
        raise DeliveryError("not a mobile number", temporary=False)
    if not sms.body.strip():
        raise DeliveryError("empty message", temporary=False)
    length = sms_length(sms.body)
    if length.chars > SMS_MAX_CHARS:
        raise DeliveryError(f"message too long ({length.chars} characters)", temporary=False)
    if config.number_format == "e164":
        number = "+81" + number[1:]
    if config.kind == "http-json":
        gateway_id = _send_json(sms, number, config)
    else:
        gateway_id = _send_aggregator(sms, number, config)
    return SmsResult(gateway_id, length.segments)


def _send_json(sms: Sms, number: str, config: SmsConfig) -> str:
    payload = {config.key("to"): number, config.key("body"): sms.body}
    if config.sender:
        payload[config.key("sender")] = config.sender
    payload[config.key("reference")] = sms.reference
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": sms.reference}
    if config.token:
        headers[config.auth_header] = config.auth_scheme + config.token
    reply = _post(config, json.dumps(payload, ensure_ascii=False).encode("utf-8"), headers)
    if not reply.strip():
        return ""
    data = _json_object(reply)
    return _identifier(data.get(config.key("id")))


def _send_aggregator(sms: Sms, number: str, config: SmsConfig) -> str:
    form = {"token": config.token, "mobilenumber": number, "smstext": sms.body, "clientTag": sms.reference}
    if config.sender:
        form["sender"] = config.sender
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
    reply = _post(config, urllib.parse.urlencode(form, encoding="utf-8").encode("ascii"), headers)
    data = _json_object(reply)
    status = data.get("status")
    code = str(status).strip() if isinstance(status, str | int) and not isinstance(status, bool) else ""
    if code == "100":
        return _identifier(data.get("messageId"))
    if code.isdigit() and len(code) == 3 and code[0] == "2":
        raise DeliveryError(f"gateway refused the request (status {code})", temporary=False)
    if code.isdigit() and len(code) == 3 and code[0] == "5":
        raise DeliveryError(f"gateway busy (status {code})", temporary=True)
    shown = f" ({code})" if code.isdigit() and len(code) <= 4 else ""  # never echo anything longer
    raise DeliveryError(f"unexpected gateway status{shown}", temporary=True)


def _json_object(reply: bytes) -> Mapping[str, object]:
    try:
        data = json.loads(reply)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise DeliveryError("unreadable gateway reply", temporary=True)
    return data


def _identifier(value: object) -> str:
    """A message id from a reply or receipt: text or an integer; None/absent is ""."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DeliveryError("unreadable gateway reply", temporary=True)
    return str(value).strip()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx then surfaces as an HTTPError


def _opener(config: SmsConfig) -> urllib.request.OpenerDirector:
    try:
        context = ssl.create_default_context(cafile=config.ca_file or None)
    except (OSError, ssl.SSLError):
        raise DeliveryError("CA file not readable", temporary=False) from None
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect(),
                                       urllib.request.HTTPSHandler(context=context))


def _post(config: SmsConfig, data: bytes, headers: Mapping[str, str]) -> bytes:
    """POST to the configured URL; the reply body of a 2xx, else DeliveryError. Exceptions are not
    chained (`from None`): their texts stay out of logs and tracebacks."""
    request = urllib.request.Request(config.url, data=data, method="POST",
                                     headers={**headers, "Accept": "application/json",
                                              "User-Agent": "madoguchi-sms"})
    try:
        with _opener(config).open(request, timeout=config.timeout_s) as response:
            return response.read(_REPLY_LIMIT)
    except urllib.error.HTTPError as error:
        error.close()
        raise _http_error(error.code) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, ssl.SSLCertVerificationError):
            raise DeliveryError("TLS certificate not trusted", temporary=False) from None
        if isinstance(error.reason, TimeoutError):
            raise DeliveryError("timed out", temporary=True) from None
        raise DeliveryError("connection failed", temporary=True) from None
    except TimeoutError:
        raise DeliveryError("timed out", temporary=True) from None
    except (OSError, HTTPException):
        raise DeliveryError("connection failed", temporary=True) from None


def _http_error(code: int) -> DeliveryError:
    if code in (408, 425, 429) or code >= 500:
        return DeliveryError(f"gateway answered HTTP {code}", temporary=True)
    if code in (401, 403):
        return DeliveryError(f"gateway refused the credentials (HTTP {code})", temporary=False)
    if 300 <= code < 400:
        return DeliveryError(f"gateway redirected (HTTP {code}); configure its final URL", temporary=False)
    return DeliveryError(f"gateway refused the message (HTTP {code})", temporary=False)


_JSON_STATES = {"delivered": ("delivered", ""), "failed": ("failed", "failed"),
                "expired": ("failed", "expired"), "undeliverable": ("failed", "undeliverable"),
                "undelivered": ("failed", "undeliverable"), "rejected": ("failed", "rejected")}
_AGGREGATOR_STATES = {"DELIVRD": ("delivered", ""), "UNDELIV": ("failed", "undeliverable"),
                      "EXPIRED": ("failed", "expired"), "REJECTD": ("failed", "rejected"),
                      "DELETED": ("failed", "deleted"), "UNKNOWN": ("failed", "unknown")}


def parse_receipt(config: SmsConfig, payload: Mapping[str, object]) -> Receipt:
    """The final delivery state from a report the gateway posted; ValueError for anything else
    (malformed, unknown or interim status). Error texts never quote the payload."""
    if not isinstance(payload, Mapping):
        raise ValueError("SMS receipt is not a mapping")
    if config.kind == "http-json":
        keys, states, fold = (config.key("reference"), config.key("id"), config.key("status")), _JSON_STATES, str.lower
    else:
        keys, states, fold = ("clientTag", "messageId", "status"), _AGGREGATOR_STATES, str.upper
    reference, gateway_id = _receipt_id(payload.get(keys[0])), _receipt_id(payload.get(keys[1]))
    if not reference and not gateway_id:
        raise ValueError("SMS receipt without a reference or message id")
    status = payload.get(keys[2])
    if not isinstance(status, str) or fold(status.strip()) not in states:
        raise ValueError("SMS receipt with an unknown status")
    outcome, reason = states[fold(status.strip())]
    return Receipt(reference, gateway_id, outcome, reason)


def _receipt_id(value: object) -> str:
    try:
        return _identifier(value)
    except DeliveryError:
        raise ValueError("SMS receipt with a malformed reference or message id") from None
