"""URL rules of the public booking site, all in one place."""

from __future__ import annotations

from flask import Blueprint

from web.public import views, views_faq

blueprint = Blueprint("public", __name__)

RULES = [
    ("/", views.index, ["GET"]),
    ("/venues/<slug>", views.venue_link, ["GET"]),
    ("/start", views.start, ["GET", "POST"]),
    ("/book/venues", views.venues, ["GET"]),
    ("/book/venues/<slug>", views.calendar_page, ["GET"]),
    ("/book/venues/<slug>/<day>", views.day, ["GET"]),
    ("/book/slot", views.choose_slot, ["POST"]),
    ("/book/details", views.details, ["GET", "POST"]),
    ("/book/confirm", views.confirm, ["GET", "POST"]),
    ("/book/done", views.done, ["GET"]),
    ("/finish", views.finish, ["POST"]),
    ("/finished", views.finished, ["GET"]),
    ("/booking.ics", views.booking_ics, ["GET"]),
    ("/lookup", views.lookup, ["GET", "POST"]),
    ("/mybooking", views.mybooking, ["GET"]),
    ("/mybooking/cancel", views.cancel, ["GET", "POST"]),
    ("/mybooking/change", views.change_start, ["POST"]),
    ("/mybooking/change/confirm", views.change_confirm, ["GET", "POST"]),
    ("/api/seats/<slug>/<day>", views.seats, ["GET"]),
    ("/faq", views_faq.faq_index, ["GET"]),
    ("/faq/search", views_faq.faq_search, ["GET"]),
    ("/faq/missing", views_faq.faq_missing, ["POST"]),
    ("/faq/category/<key>", views_faq.faq_category, ["GET"]),
    ("/faq/<key>", views_faq.faq_entry, ["GET"]),
    ("/faq/<key>/solved", views_faq.faq_solved, ["POST"]),
    ("/textsize/<size>", views.textsize, ["GET"]),
    ("/healthz", views.healthz, ["GET"]),
]

for rule, view, methods in RULES:
    blueprint.add_url_rule(rule, view_func=view, methods=methods)

blueprint.before_request(views.leave_done_page)
