"""Real servers on loopback for the notification tests (a pytest plugin that tests/conftest.py loads):
an SMTP server (aiosmtpd) that records what it receives, and a small HTTP server playing the SMS
gateway (http-json), both able to fail or answer slowly on demand.
Both drop a message whose reference they have already accepted, as real gateways and mail systems do
with a client reference or Message-ID, and count how often that happened."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from appliance.notify import email as notify_email
from appliance.notify import sms as notify_sms
from appliance.notify.worker import Senders


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MailServer:
    port: int
    received: list = field(default_factory=list)  # parsed messages, first copy of each Message-ID
    offered: Counter = field(default_factory=Counter)  # Message-ID -> times offered
    answer: str = "250 OK"  # e.g. "451 try later", "550 no such user"
    delay: float = 0.0  # seconds before answering DATA (a slow server, for the crash test)

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.answer.startswith("250"):
            return self.answer
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.offered[message["Message-ID"]] += 1
        if self.offered[message["Message-ID"]] == 1:
            self.received.append(message)
        return "250 OK"


@pytest.fixture
def mail_server():
    server = MailServer(free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    yield server
    controller.stop()


@dataclass
class Gateway:
    url: str
    received: list = field(default_factory=list)  # request bodies, first copy of each reference
    offered: Counter = field(default_factory=Counter)
    status: int = 200  # what to answer: 200, 500, 400 ...
    delay: float = 0.0  # seconds before answering (a slow gateway, for the crash test)


@pytest.fixture
def sms_gateway():
    port = free_port()
    gateway = Gateway(f"http://127.0.0.1:{port}/send")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(gateway.delay)
            with lock:
                if gateway.status != 200:
                    self.send_response(gateway.status)
                    self.end_headers()
                    return
                gateway.offered[body["reference"]] += 1
                if gateway.offered[body["reference"]] == 1:
                    gateway.received.append(body)
                answer = json.dumps({"id": f"gw-{len(gateway.received)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gateway
    server.shutdown()
    server.server_close()


@pytest.fixture
def senders(mail_server, sms_gateway):
    return Senders(
        notify_email.SmtpConfig(
            host="127.0.0.1",
            port=mail_server.port,
            security="none",
            mail_from="yoyaku@city.example.lg.jp",
            from_name="デモ市 市民課",
            timeout_s=5,
        ),
        notify_sms.SmsConfig(kind="http-json", url=sms_gateway.url, token="t0ken", timeout_s=5),
    )
