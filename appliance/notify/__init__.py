"""Notifications to citizens: SMS and email, sent by `madoguchi worker` from the outbox after commit."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message not handed over. temporary: try again later (network, 4xx, a busy gateway);
    otherwise permanent (refused address or number, bad credentials, a message the gateway rejects).
    reason: short English text for the log and, translated by code, for staff; never personal data."""

    def __init__(self, reason: str, *, temporary: bool):
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
