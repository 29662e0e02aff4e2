"""The one table of settings: name, type, default and help.

Read from a TOML file (``MADOGUCHI_CONFIG``, default /etc/madoguchi/madoguchi.toml) and overridable
by environment variables ``MADOGUCHI_<NAME>``. Unknown keys are an error in both places, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import decimal
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("/etc/madoguchi/madoguchi.toml")
ENV_PREFIX = "MADOGUCHI_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"


class SettingsError(Exception):
    """A configuration problem, worded for the administrator who must fix it."""


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", Path, Path("/var/lib/madoguchi"),
            "Folder holding the encrypted database, recordings and logs (owned by the service user)."),
    Setting("key_dir", Path, Path("/etc/madoguchi/keys"),
            "Folder holding the key files (mode 0700, files 0600). Never inside data_dir's backups."),
    Setting("alert_email", str, "",
            "Comma-separated addresses of the administrators who get an email when the nightly backup, drill or "
            "purge fails, the disk runs low, or a voice process keeps restarting (through smtp_host)."),
    Setting("tls_cert_dir", str, "",
            "Folder of the TLS certificates nginx serves (public.crt, admin.crt): `madoguchi check` warns 30 days "
            "before one expires. Empty: not checked."),
    Setting("backup_dir", Path, Path("/var/backups/madoguchi"),
            "Folder the encrypted backups are written to: a mounted NAS or USB disk, not the data folder's disk."),
    Setting("backup_time", str, "02:30", "When the nightly backup and its restore drill run (HH:MM, Tokyo time)."),
    Setting("backup_keep_daily", int, 7, "Backups kept: the newest of each of this many days."),
    Setting("backup_keep_weekly", int, 4, "...and the newest of each of this many weeks."),
    Setting("backup_keep_monthly", int, 2, "...and the newest of each of this many months (none older than "
            "backup_max_age_days)."),
    Setting("backup_max_age_days", int, 90,
            "No backup is kept longer than this, whatever the counts say: personal data removed by the purge is "
            "gone from the backups at most this many days later."),
    Setting("purge_booking_days", int, 90,
            "A booking's personal fields (name, furigana, phone, email, birth date) are removed this many days "
            "after its appointment; the row stays, anonymous, for the statistics."),
    Setting("purge_recording_days", int, 90,
            "Call recordings, transcripts and what each turn heard are removed this many days after the call."),
    Setting("purge_caller_days", int, 180,
            "Callers' numbers (the call log, the keys pressed, IVR SMS recipients) are removed this many days "
            "after the call."),
    Setting("access_log_days", int, 365, "The admin site's access log is kept this many days."),
    Setting("escalation_groups", str, "",
            "Where operators escalate what they cannot answer: comma-separated name=addresses (several addresses "
            "separated by spaces), each escalation mailed there through smtp_host (e.g. "
            "市民課マイナンバー担当=mynumber@city.example.lg.jp). Empty: escalations are listed on the admin site only."),
    Setting("escalation_hours", int, 8,
            "Business hours a group has to answer an escalation (its due time), counted on escalation_calendar."),
    Setting("escalation_calendar", str, "",
            "The calendar (電話の流れ's calendars) whose opening hours escalation due times count; empty: "
            "weekdays 8:30-17:15 without national holidays and 12/29-1/3."),
    Setting("city_name", str, "デモ市", "The city's name as citizens see it."),
    Setting("help_phone", str, "0586-00-0000",
            "The city's help line, shown on every page and spoken when the bot cannot finish."),
    Setting("busy_timeout_ms", int, 10000,
            "How long a writer waits for the database lock before reporting 混み合っています."),
    Setting("one_booking_per_person", bool, True,
            "Allow only one active booking per person (same phone number and birth date)."),
    Setting("reserved_seats_release_days", int, 3,
            "Seats held back for the phone and staff channels are released to the web this many days "
            "before the appointment date."),
    Setting("min_free_disk_mb", int, 1024,
            "`madoguchi check` fails when the data folder's disk has less free space than this."),
    Setting("log_keep_days", int, 90, "Rotated log files (one a night, gzipped) are kept this many days."),
    Setting("log_level", str, "INFO", "Log level: DEBUG, INFO, WARNING or ERROR. Logs never contain PII."),
    Setting("public_bind", str, "127.0.0.1:8080", "Address:port of the public booking site (gunicorn)."),
    Setting("admin_bind", str, "127.0.0.1:8081", "Address:port of the staff admin site (gunicorn)."),
    Setting("admin_allowlist", str, "127.0.0.0/8,::1/128",
            "Client addresses (CIDR, comma-separated) allowed on the admin site; others get 403."),
    Setting("admin_idle_minutes", int, 30, "A staff session ends after this long without a click."),
    Setting("admin_session_hours", int, 10, "A staff session ends this long after login, however busy."),
    Setting("admin_reauth_minutes", int, 10,
            "Sensitive admin actions (exports, overrides, users, texts) ask for the password and code again "
            "when the last one is older than this."),
    Setting("web_workers", int, 4, "gunicorn worker processes per site."),
    Setting("proxy_hops", int, 0,
            "Reverse proxies in front of the sites (nginx, the city's web server) whose "
            "X-Forwarded-For/-Proto are trusted; 0 when clients connect directly."),
    Setting("session_idle_minutes", int, 60,
            "A citizen's unfinished booking form is kept this long after their last click."),
    Setting("rate_limit_per_ip", int, 60,
            "Bookings, look-ups, changes and cancellations allowed per client address per 10 minutes."),
    Setting("rate_limit_per_phone", int, 10, "Booking attempts allowed per phone number per day."),
    Setting("lookup_failures_per_number", int, 5,
            "Failed look-ups of one reservation number (from any address) before it is locked until "
            "the hour is out."),
    Setting("max_party_size", int, 1,
            "Most people one web booking may bring (1 hides the party-size field)."),
    Setting("public_url", str, "http://127.0.0.1:8080",
            "The public site's address as citizens reach it (links in SMS, email and .ics files)."),
    Setting("sip_listen", str, "0.0.0.0:5060",
            "Address:port where the SIP dispatcher (Kamailio) takes calls from the trunk, UDP and TCP."),
    Setting("sip_public_address", str, "",
            "The appliance's address as the trunk reaches it, when behind NAT (put in SIP and SDP); "
            "empty uses the listening address."),
    Setting("sip_trunk_mode", str, "allowlist",
            "`allowlist`: accept INVITEs only from sip_trunk_addresses (others get 403); `register`: "
            "register to sip_registrar with digest auth and accept calls from it."),
    Setting("sip_early_media", bool, False,
            "The trunk wants early media: calls get 183 with audio, announcements play before the answer, the "
            "answer (200) comes when the flow first needs the caller, and a call that only hears "
            "announcements (closed hours) ends unanswered with 480, free of charge to the caller."),
    Setting("sip_trunk_addresses", str, "127.0.0.1/32",
            "Comma-separated addresses or networks (CIDR) of the SIP trunk or PBX allowed to send calls."),
    Setting("staff_phone_networks", str, "127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16",
            "Comma-separated networks (CIDR) staff phones may register from as extensions (madoguchi voice extension)."),
    Setting("sip_registrar", str, "",
            "Register mode: the registrar as host[:port]; the password is the file sip_password in key_dir."),
    Setting("sip_username", str, "", "Register mode: the SIP user name (and digest user) for registration."),
    Setting("rtp_ports", str, "20000-20999", "UDP port range for call audio (RTP and RTCP), shared out among the workers."),
    Setting("voice_max_calls", int, 12,
            "Calls at once the box always answers, whatever their lines do (a voice worker for every two); "
            "callers beyond it hear voice_busy_announcement (calls that never transfer may fill spare places)."),
    Setting("voice_worker_base_port", int, 5070,
            "Workers listen for SIP on 127.0.0.1 from this port up (one port per worker), behind Kamailio."),
    Setting("voice_busy_announcement", str,
            "ただいま電話が大変混み合っております。しばらくたってから、おかけ直しください。",
            "Spoken to a caller when every line is busy, before hanging up."),
    Setting("voice_ring_ms", int, 1000,
            "The caller hears ringing this long before the engine answers (0 answers at once)."),
    Setting("media_timeout_s", int, 30, "A call with no audio from the caller for this long is ended."),
    Setting("record_calls", bool, True, "Record calls (both directions, encrypted) on lines that allow it."),
    Setting("recording_announcement", str, "この通話は録音されます。",
            "Said first on every recorded call; empty says nothing."),
    Setting("transfer_targets", str, "",
            "Where flows may transfer a caller: comma-separated name=target, the target a SIP URI or a "
            "number dialled through transfer_via (e.g. staff=sip:2001@192.0.2.20, 市民課=0586281111)."),
    Setting("transfer_via", str, "",
            "host[:port] of the trunk or PBX that transfer numbers are dialled through (register mode: "
            "sip_registrar when empty)."),
    Setting("transfer_mode", str, "bridged",
            "`bridged`: the engine calls the target and joins the calls (the recording continues); "
            "`blind`: the caller's side is asked to call the target (SIP REFER)."),
    Setting("transfer_timeout_s", int, 25, "A transfer target that has not answered after this long counts as no answer."),
    Setting("transfer_failed_announcement", str,
            "申し訳ありません。ただいま担当者におつなぎできませんでした。",
            "Said when a transfer target is busy or does not answer, before the flow goes on."),
    Setting("asr_engine", str, "whisper",
            "Speech recognition engine: `whisper` (bundled), `reazonspeech` (model files from "
            "`madoguchi models import`) or `reazonspeech-espnet` (optional extra)."),
    Setting("asr_parallel", int, 1, "Utterances recognised at the same time by the recognition service."),
    Setting("asr_threads", int, 2, "CPU threads per recognition."),
    Setting("smtp_host", str, "", "SMTP server for citizens' email (empty: email notices are not sent)."),
    Setting("smtp_port", int, 587, "SMTP port (587 submission with STARTTLS, 465 TLS, 25 a relay)."),
    Setting("smtp_security", str, "starttls", "none, starttls or tls (TLS 1.2 or newer)."),
    Setting("smtp_username", str, "",
            "SMTP login (empty: no AUTH); the password is in key_dir/smtp.password (`madoguchi notify password smtp`)."),
    Setting("mail_from", str, "", "From address of citizens' email, e.g. yoyaku@city.example.lg.jp."),
    Setting("mail_from_name", str, "", "Sender name shown with mail_from (empty: city_name)."),
    Setting("mail_reply_to", str, "", "Reply-To address (empty: none)."),
    Setting("sms_gateway", str, "",
            "SMS gateway adapter: http-json or aggregator (empty: SMS notices are not sent)."),
    Setting("sms_url", str, "", "The gateway's send URL (https)."),
    Setting("sms_sender", str, "", "Sender id or number citizens see, if the gateway takes one."),
    Setting("sms_number_format", str, "domestic", "Numbers as the gateway wants them: domestic (090...) or e164 (+8190...)."),
    Setting("sms_auth_header", str, "Authorization",
            "http-json: header carrying the token from key_dir/sms.token (`madoguchi notify password sms`)."),
    Setting("sms_auth_scheme", str, "Bearer ", "http-json: text put before the token in that header."),
    Setting("sms_fields", str, "",
            "http-json: field names when the gateway differs, e.g. to=phone,body=text,reference=client_ref."),
    Setting("notify_max_attempts", int, 8,
            "Tries before a message becomes a dead letter staff can see and resend (waits 1, 2, 4 ... 60 minutes)."),
    Setting("reminder_time", str, "12:30", "When the day-before reminders go out (HH:MM, Tokyo time)."),
    Setting("reminder_days_before", int, 1, "Reminders go out this many days before the appointment (0: none)."),
    Setting("usage_flat_fee_yen", str, "0", "Monthly flat fee on the usage statement (yen)."),
    Setting("usage_sms_yen", str, "0", "Price per SMS part sent (yen, decimals allowed)."),
    Setting("usage_email_yen", str, "0", "Price per email sent (yen)."),
    Setting("usage_call_ai_yen_per_minute", str, "0", "Price per minute of AI phone calls (yen)."),
    Setting("usage_call_ivr_yen_per_minute", str, "0", "Price per minute of key-press (IVR) calls (yen)."),
    Setting("usage_call_transfer_yen_per_minute", str, "0", "Price per minute of calls transferred to staff (yen)."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    """TOML gives typed values, the environment gives strings: accept both, nothing else."""
    kind = setting.type
    if isinstance(value, str):
        text = value.strip()
        if kind is bool and text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        if kind is int and re.fullmatch(r"-?\d+", text):
            return int(text)
        if kind is Path and text:
            return Path(text)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise SettingsError(f"{source}: setting {setting.name!r} must be a {kind.__name__}, got {value!r}")


class Settings:
    """Resolved settings: attribute access by name, every value typed."""

    def __init__(self, values: dict[str, Any], source: Path | None = None):
        self._values = values
        self.source = source

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "madoguchi.db"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def run_dir(self) -> Path:
        """Sockets, pid files and generated configuration of the running processes."""
        return self.data_dir / "run"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    def replace(self, **changes: Any) -> Settings:
        values = dict(self._values)
        for name, value in changes.items():
            if name not in _BY_NAME:
                raise SettingsError(f"unknown setting {name!r}")
            values[name] = _coerce(_BY_NAME[name], value, "override")
        return Settings(values, self.source)


def config_path(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_settings(path: Path | str | None = None, environ: dict[str, str] | None = None, *,
                  missing_ok: bool = False) -> Settings:
    """Defaults, then the TOML file (if it exists), then MADOGUCHI_* environment variables. A file named
    explicitly must exist, except for `madoguchi init` (missing_ok), which writes it."""
    environ = os.environ if environ is None else environ
    explicit = (path is not None or CONFIG_ENV in environ) and not missing_ok
    path = Path(path or environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    values = {s.name: s.default for s in SETTINGS}

    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from None
        for key, value in data.items():
            if key not in _BY_NAME:
                raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(_BY_NAME)})")
            values[key] = _coerce(_BY_NAME[key], value, str(path))
    elif explicit:
        raise SettingsError(f"configuration file {path} does not exist")

    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var == CONFIG_ENV:
            continue
        name = var[len(ENV_PREFIX):].lower()
        if name not in _BY_NAME:
            raise SettingsError(f"environment variable {var}: unknown setting {name!r}")
        values[name] = _coerce(_BY_NAME[name], value, f"environment variable {var}")

    if values["log_level"].upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"log_level must be DEBUG, INFO, WARNING or ERROR, got {values['log_level']!r}")
    values["log_level"] = values["log_level"].upper()
    _check_voice(values)
    admin_networks(values["admin_allowlist"])
    _check_notify(values)
    return Settings(values, path if path.exists() else None)


def admin_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        networks = tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise SettingsError(f"admin_allowlist must be CIDR networks like 192.168.10.0/24, comma-separated: {exc}") from None
    if not networks:
        raise SettingsError("admin_allowlist is empty: nobody could reach the admin site")
    return networks


PRICE_SETTINGS = ("usage_flat_fee_yen", "usage_sms_yen", "usage_email_yen", "usage_call_ai_yen_per_minute",
                  "usage_call_ivr_yen_per_minute", "usage_call_transfer_yen_per_minute")


def _check_notify(values: dict[str, Any]) -> None:
    if values["smtp_security"] not in ("none", "starttls", "tls"):
        raise SettingsError(f"smtp_security must be none, starttls or tls, got {values['smtp_security']!r}")
    if values["smtp_host"] and not values["mail_from"]:
        raise SettingsError("smtp_host is set but mail_from is empty: citizens' email needs a From address")
    if values["sms_gateway"] not in ("", "http-json", "aggregator"):
        raise SettingsError(f"sms_gateway must be http-json, aggregator or empty, got {values['sms_gateway']!r}")
    if values["sms_gateway"] and not values["sms_url"]:
        raise SettingsError("sms_gateway is set but sms_url is empty")
    if values["sms_number_format"] not in ("domestic", "e164"):
        raise SettingsError(f"sms_number_format must be domestic or e164, got {values['sms_number_format']!r}")
    for name in ("reminder_time", "backup_time"):
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", values[name]):
            raise SettingsError(f"{name} must be HH:MM, got {values[name]!r}")
    for name in ("backup_keep_daily", "backup_keep_weekly", "backup_keep_monthly"):
        if values[name] < 0:
            raise SettingsError(f"{name} must be 0 or more, got {values[name]}")
    for name in ("purge_booking_days", "purge_recording_days", "purge_caller_days", "access_log_days"):
        if values[name] < 1:
            raise SettingsError(f"{name} must be at least 1 (days), got {values[name]}")
    if values["backup_keep_daily"] < 1 or values["backup_max_age_days"] < 1:
        raise SettingsError("backup_keep_daily and backup_max_age_days must be at least 1: the newest backup is kept")
    for name in PRICE_SETTINGS:
        try:
            price = decimal.Decimal(values[name])
        except decimal.InvalidOperation:
            price = None
        if price is None or not price.is_finite() or price < 0:
            raise SettingsError(f"{name} must be a price in yen like 3.3, got {values[name]!r}")


def port_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match or not 1024 <= int(match[1]) < int(match[2]) <= 65535:
        raise SettingsError(f"rtp_ports must be like 20000-20999 within 1024-65535, got {text!r}")
    return int(match[1]), int(match[2])


def _check_voice(values: dict[str, Any]) -> None:
    if values["sip_trunk_mode"] not in ("allowlist", "register"):
        raise SettingsError(f"sip_trunk_mode must be allowlist or register, got {values['sip_trunk_mode']!r}")
    if values["sip_trunk_mode"] == "register" and not (values["sip_registrar"] and values["sip_username"]):
        raise SettingsError("sip_trunk_mode = register needs sip_registrar and sip_username")
    if values["asr_engine"] not in ("whisper", "reazonspeech", "reazonspeech-espnet"):
        raise SettingsError(f"asr_engine must be whisper, reazonspeech or reazonspeech-espnet, got {values['asr_engine']!r}")
    _check_transfer(values)
    parse_escalation_groups(values["escalation_groups"])
    if not 1 <= values["escalation_hours"] <= 200:
        raise SettingsError(f"escalation_hours must be 1-200, got {values['escalation_hours']}")
    first, last = port_range(values["rtp_ports"])
    workers = voice_workers(values["voice_max_calls"]) + 1  # and the overflow worker
    if values["voice_max_calls"] < 1 or (last - first + 1) // workers < 8:
        raise SettingsError(f"rtp_ports {values['rtp_ports']} is too small for voice_max_calls "
                            f"{values['voice_max_calls']} (each worker needs at least 8 ports)")


def voice_workers(max_calls: int) -> int:
    """Voice workers for max_calls calls at once (the overflow worker not counted). A worker has 4 call
    places (pjsua2's PJSUA_MAX_CALLS) and a call that may be put through keeps a second one for the
    transfer's leg: two such calls per worker (calls that never transfer may fill the spare places)."""
    return -(-max_calls // 2)


# --- transfer targets: "staff=sip:2001@192.0.2.20, 市民課=0586281111" ---------------------------------
# A number (an outside line or a PBX extension) is dialled through `transfer_via` (host[:port] of the
# trunk or PBX; in register mode the registrar when empty); voice/transfer.py turns a name into a URI.

TRANSFER_MODES = ("bridged", "blind")
TRANSFER_NUMBER = re.compile(r"\+?[0-9*#]{2,32}")
SIP_URI = re.compile(r"sips?:[^\s,=<>\"]+")
EMAIL = re.compile(r"[^\s@,=]+@[^\s@,=]+\.[^\s@,=]+")


def parse_transfer_targets(text: str) -> dict[str, str]:
    """{name: target} from "name=target, ..."; a bad entry names itself in the error."""
    targets = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, target = (s.strip() for s in item.partition("="))
        if not sep or not name or not (SIP_URI.fullmatch(target) or TRANSFER_NUMBER.fullmatch(target.replace("-", ""))):
            raise SettingsError(f"transfer_targets: {item!r} is not name=sip:user@host or name=number")
        if name in targets:
            raise SettingsError(f"transfer_targets: {name!r} is named twice")
        targets[name] = target
    return targets


def parse_escalation_groups(text: str) -> dict[str, tuple[str, ...]]:
    """{group: addresses} from "name=a@x b@y, ..."; a bad entry names itself in the error."""
    groups: dict[str, tuple[str, ...]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, addresses = (s.strip() for s in item.partition("="))
        found = tuple(addresses.split())
        if not sep or not name or not found or not all(EMAIL.fullmatch(a) for a in found):
            raise SettingsError(f"escalation_groups: {item!r} is not name=address (addresses separated by spaces)")
        if name in groups:
            raise SettingsError(f"escalation_groups: {name!r} is named twice")
        groups[name] = found
    return groups


def transfer_via_host(transfer_via: str, sip_trunk_mode: str, sip_registrar: str) -> str:
    return transfer_via or (sip_registrar if sip_trunk_mode == "register" else "")


def _check_transfer(values: dict) -> None:
    """Refuse transfer settings a call would fail on later."""
    if values["transfer_mode"] not in TRANSFER_MODES:
        raise SettingsError(f"transfer_mode must be bridged or blind, got {values['transfer_mode']!r}")
    if not 1 <= values["transfer_timeout_s"] <= 300:
        raise SettingsError(f"transfer_timeout_s must be 1-300, got {values['transfer_timeout_s']}")
    targets = parse_transfer_targets(values["transfer_targets"])
    via = transfer_via_host(values["transfer_via"], values["sip_trunk_mode"], values["sip_registrar"])
    numbers = [name for name, target in targets.items() if not SIP_URI.fullmatch(target)]
    if numbers and not via:
        raise SettingsError(f"transfer_targets: {', '.join(numbers)} are numbers, which need transfer_via "
                            "(the trunk or PBX to dial them through)")


def render_toml(settings: Settings) -> str:
    """A config file with every setting, its help as a comment; used by `madoguchi init`."""
    lines = ["# madoguchi configuration. Every key is documented in README.md (Settings).", ""]
    for s in SETTINGS:
        value = getattr(settings, s.name)
        lines.append(f"# {s.help}")
        if s.type is bool:
            lines.append(f"{s.name} = {'true' if value else 'false'}")
        elif s.type is int:
            lines.append(f"{s.name} = {value}")
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{s.name} = "{escaped}"')
        lines.append("")
    return "\n".join(lines)
