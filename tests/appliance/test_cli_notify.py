"""The notification commands as an administrator uses them: secrets kept 0600, the outbox status, a
resend of something that cannot be resent, the usage statement written as CSV and PDF, and the demo's
mail catcher receiving a real message and showing it decoded."""

from __future__ import annotations

import smtplib
import socket
import stat
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

from tests.appliance.test_cli import MADOGUCHI, box  # noqa: F401 (the fixture)


def test_notify_secret_status_resend_and_statement(box, tmp_path):  # noqa: F811
    out = subprocess.run([*MADOGUCHI, "notify", "password", "sms"], input="s3cret-token\n", capture_output=True,
                         text=True, env={"MADOGUCHI_CONFIG": str(box.config), "PATH": "/usr/bin:/bin"},
                         cwd=Path(__file__).parents[2], timeout=120)
    assert out.returncode == 0, out.stderr
    token = box.root / "keys" / "sms.token"
    assert token.read_text() == "s3cret-token\n" and stat.S_IMODE(token.stat().st_mode) == 0o600
    box.run("notify", "status")
    assert "only a finished message" in box.run("notify", "resend", "999", ok=False).stderr
    csv_file, pdf_file = tmp_path / "usage.csv", tmp_path / "usage.pdf"
    shown = box.run("usage", "statement", "--month", "2026-12", "--csv", str(csv_file), "--pdf", str(pdf_file)).stdout
    assert "2026年12月 利用明細" in shown and "月額基本料" in shown
    assert csv_file.read_bytes().startswith(b"\xef\xbb\xbf") and pdf_file.read_bytes().startswith(b"%PDF")
    assert "not a month" in box.run("usage", "statement", "--month", "2026-13", ok=False).stderr


def test_mailcatcher_keeps_mail_once_and_shows_it(box):  # noqa: F811
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"MADOGUCHI_CONFIG": str(box.config), "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([*MADOGUCHI, "mailcatcher", "serve", "--bind", f"127.0.0.1:{port}", "--sms-port", "0"],
                              env=env, cwd=Path(__file__).parents[2], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.jp", "b@example.jp", "予約のお知らせ"
        message["Message-ID"] = "<test-1@example.jp>"
        message.set_content("予約番号 1234-5678")
        for _ in range(100):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                    smtp.send_message(message)
                    smtp.send_message(message)  # the same Message-ID again: kept once
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
    finally:
        server.terminate()
        assert server.wait(timeout=20) == 0
    listing = box.run("mailcatcher", "list").stdout
    assert listing.count("予約のお知らせ") == 1
    assert "予約番号 1234-5678" in box.run("mailcatcher", "show", "1").stdout
    kept = list((box.root / "data" / "mailcatcher").glob("*.eml"))
    assert kept and b"1234-5678" not in kept[0].read_bytes()  # encrypted at rest
