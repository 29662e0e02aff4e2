"""The manager's pages: the audit and access logs with filters and CSV, statistics with charts drawn on
the server, and the monthly report as PDF and CSV."""

from __future__ import annotations

import csv
import io
import subprocess

import pytest

from db import bookings
from db.models import AuditLog
from tests.conftest import CLERK, NOW, make_applicant


def test_audit_log_filters_by_actor_and_action(admin, dummy_slot):
    bookings.book(dummy_slot.id, make_applicant(), "staff", NOW, actor=CLERK)
    page = admin.get("/logs/audit?actor=test-clerk&action=booking").get_data(as_text=True)
    assert "booking.create" in page and "login.success" not in page
    everything = admin.get("/logs/audit").get_data(as_text=True)
    assert "login.success" in everything


@pytest.mark.parametrize("encoding,codec", [("utf-8", "utf-8-sig"), ("shift_jis", "cp932")])
def test_audit_log_csv_decodes_and_is_itself_audited(admin, dummy_slot, encoding, codec):
    bookings.book(dummy_slot.id, make_applicant(), "staff", NOW, actor=CLERK)
    response = admin.get(f"/logs/audit.csv?encoding={encoding}&action=booking")
    rows = list(csv.reader(io.StringIO(response.get_data().decode(codec))))
    assert rows[0] == ["日時", "職員", "操作", "対象", "対象ID", "内容", "接続元"]
    assert [r[2] for r in rows[1:]] == ["booking.create"]
    assert AuditLog.select().where(AuditLog.action == "export.audit_log").count() == 1


def test_access_log_shows_functions_used(admin):
    admin.get("/statistics")
    page = admin.get("/logs/access?action=statistics").get_data(as_text=True)
    assert "admin.statistics" in page and "admin.home" not in page


def test_log_links_carry_the_filter_and_nothing_else_of_the_url(admin):
    """The CSV and page links repeat the filter only: a URL with encoding=, _scheme= or _external=
    neither breaks the page nor turns its links into another scheme or host."""
    page = admin.get("/logs/audit?actor=admin&encoding=latin-1&_scheme=javascript&_external=1&page=1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "javascript:" not in html and "http://" not in html.split("<main", 1)[1]
    assert 'href="/logs/audit.csv?encoding=utf-8&amp;actor=admin"' in html


def test_an_over_long_log_filter_is_refused_with_a_message(admin):
    """A 100 KB filter (more than SQLite's LIKE takes) gets the field's message and no rows; its CSV 400."""
    page = admin.get("/logs/access?action=" + "x" * 100_000)
    assert page.status_code == 200 and "長すぎます" in page.get_data(as_text=True)
    assert admin.get("/logs/access.csv?encoding=utf-8&action=" + "x" * 100_000).status_code == 400


def test_statistics_page_draws_charts_without_scripts(viewer, create_slot):
    """Charts are inline SVG drawn on the server, each with a table of the same figures."""
    slot = create_slot()
    bookings.book(slot.id, make_applicant(), "web", NOW)
    page = viewer.get("/statistics?first=2026-12-01&last=2026-12-31")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and text.count("<svg") == 4 and "<script>" not in text
    assert "会場別の予約状況" in text and "本庁舎" in text
    bad = viewer.get("/statistics?first=2026-12-31&last=2026-12-01")
    assert bad.status_code == 422 and "終わりの日が始まりの日より前です" in bad.get_data(as_text=True)


def test_monthly_report_as_pdf_and_csv(viewer, create_slot):
    slot = create_slot()
    bookings.book(slot.id, make_applicant(), "phone", NOW)
    pdf = viewer.get("/statistics/report.pdf?month=2026-12")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.get_data(), capture_output=True,
                          check=True).stdout.decode()
    assert "2026年12月" in text and "本庁舎" in text
    rows = list(csv.reader(io.StringIO(viewer.get("/statistics/report.csv?month=2026-12&encoding=utf-8")
                                       .get_data().decode("utf-8-sig"))))
    assert any("本庁舎" in row for row in rows[1:])
    assert viewer.get("/statistics/report.pdf?month=2026-13").status_code == 404


def test_home_shows_todays_seats_per_venue(viewer, frozen_now, create_slot, dummy_venue):
    """The first page: each venue with slots today, booked of capacity and how many came."""
    today = frozen_now["now"].date()
    slot = create_slot(date=today, start="23:30", capacity=4)
    bookings.book(slot.id, make_applicant(), "staff", NOW, actor=CLERK, party_size=2)
    page = viewer.get("/").get_data(as_text=True)
    assert dummy_venue.name in page and "2 / 4" in page
