"""Machine-to-machine endpoints on the public site: delivery receipts from the SMS gateway."""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import abort, jsonify, request

from appliance import clock, runtime
from appliance.notify import sms
from appliance.notify.worker import Senders, record_receipt
from db import crypto
from db.connection import write_transaction

log = logging.getLogger(__name__)


def receipt_token() -> str:
    """The secret part of the receipt URL, derived from the index key (nothing extra to keep)."""
    return hmac.new(crypto.cipher().keyring.index_key, b"sms-receipt-url", hashlib.sha256).hexdigest()[:32]


def sms_receipt(token: str):
    if not crypto.same_text(token, receipt_token()):
        abort(404)
    config = Senders.from_settings(runtime.settings()).sms
    if config is None:
        abort(404)
    payload = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    try:
        receipt = sms.parse_receipt(config, payload or {})
    except ValueError:
        # Interim states (sent, en route) and malformed reports: acknowledged, nothing recorded, so the
        # gateway does not post them again and again.
        return jsonify(recorded=False), 200
    with write_transaction():
        found = record_receipt(receipt, clock.now())
    if not found:
        log.info("SMS receipt for an unknown message")
    return jsonify(recorded=found), 200
