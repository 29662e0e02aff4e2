"""The demo's mail server and SMS gateway: `madoguchi mailcatcher serve` accepts mail (SMTP) and SMS
(the http-json gateway format, POST /sms) on loopback and keeps each message encrypted under
data_dir/mailcatcher (they carry citizens' names), one file per Message-ID or SMS reference: a message
offered again after a crash under the same identity is kept once, as mail systems and gateways do."""

from __future__ import annotations

import datetime
import email
import email.policy
import email.utils
import hashlib
import json
import logging
import signal
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from appliance.clock import TOKYO
from appliance.settings import Settings
from db import crypto
from db.files import EncryptedFileWriter, read_file

log = logging.getLogger(__name__)


def folder(settings: Settings):
    return settings.data_dir / "mailcatcher"


class _Keep:
    def __init__(self, settings: Settings):
        self.settings = settings

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message_id = str(message["Message-ID"] or hashlib.sha256(envelope.content).hexdigest())
        if not _keep(self.settings, message_id, "eml", envelope.content):
            log.info("mailcatcher: duplicate of a kept message dropped")
            return "250 OK (duplicate)"
        log.info("mailcatcher: kept a message of %s bytes", len(envelope.content))
        return "250 OK"


def _keep(settings: Settings, identity: str, suffix: str, content: bytes) -> bool:
    path = folder(settings) / f"{hashlib.sha256(identity.encode()).hexdigest()[:32]}.{suffix}"
    if path.exists():
        return False
    with EncryptedFileWriter(path, crypto.cipher()) as out:
        out.write(content)
    return True


def _sms_handler(settings: Settings):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(min(length, 65536)))
                reference, to, text = str(body["reference"]), str(body["to"]), str(body["body"])
            except (ValueError, KeyError, TypeError):
                self.send_error(400)
                return
            with lock:
                kept = _keep(settings, reference, "sms", json.dumps({"to": to, "body": text}, ensure_ascii=False).encode())
            answer = json.dumps({"id": hashlib.sha256(reference.encode()).hexdigest()[:16]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            log.info("mailcatcher: %s an SMS", "kept" if kept else "dropped a duplicate of")

        def log_message(self, *args):  # the request line carries nothing useful; our log line suffices
            pass

    return Handler


def serve(settings: Settings, host: str, port: int, sms_port: int | None = None) -> None:
    folder(settings).mkdir(mode=0o700, parents=True, exist_ok=True)
    # Blocked before the server threads start (they inherit the mask), so the main thread takes them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    controller = Controller(_Keep(settings), hostname=host, port=port)
    controller.start()
    sms_server = None
    if sms_port:
        sms_server = ThreadingHTTPServer((host, sms_port), _sms_handler(settings))
        threading.Thread(target=sms_server.serve_forever, daemon=True).start()
    log.info("mailcatcher listening on %s:%s (SMTP)%s", host, port,
             f" and {host}:{sms_port} (SMS, POST /sms)" if sms_port else "")
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()
        if sms_server:
            sms_server.shutdown()


def messages(settings: Settings) -> list[EmailMessage]:
    """Every kept message, oldest first; an SMS as a message with To and its text (Subject: SMS)."""
    paths = sorted((p for p in folder(settings).glob("*.*") if p.suffix in (".eml", ".sms")),
                   key=lambda p: p.stat().st_mtime) if folder(settings).exists() else []
    found = []
    for path in paths:
        data = read_file(path, crypto.cipher())
        if path.suffix == ".eml":
            found.append(email.message_from_bytes(data, policy=email.policy.default))
            continue
        sms = json.loads(data)
        message = EmailMessage()
        message["To"], message["Subject"] = sms["to"], "SMS"
        message["Date"] = email.utils.format_datetime(datetime.datetime.fromtimestamp(path.stat().st_mtime, TOKYO))
        message.set_content(sms["body"])
        found.append(message)
    return found
