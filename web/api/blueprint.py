"""URL rules of the machine-to-machine API (on the public site; each endpoint authenticates itself)."""

from __future__ import annotations

from flask import Blueprint

from web.api import views

blueprint = Blueprint("api", __name__)

RULES = [
    ("/api/sms/receipts/<token>", views.sms_receipt, ["POST"]),
]

for rule, view, methods in RULES:
    blueprint.add_url_rule(rule, view_func=view, methods=methods)
