"""What a call's SIP messages say, read without pjsua2: the dialled number (which selects the phone
line) and the caller's number."""

from __future__ import annotations

import re


def dialled_number(invite: str, registered_user: str = "") -> str:
    """The DID: the user part of the request URI, digits only (tel: and sip: alike). A trunk we
    register with addresses calls to our registered contact, so there the To header names the DID."""
    first = invite.split("\r\n", 1)[0]
    match = re.match(r"INVITE\s+(?:sips?|tel):\+?([^@;>\s]*)", first, re.IGNORECASE)
    user = match[1] if match else ""
    if registered_user and user == registered_user:
        to = re.search(r"^(?:To|t)\s*:[^\r\n]*?(?:sips?|tel):\+?([^@;>\s]*)", invite, re.IGNORECASE | re.MULTILINE)
        user = to[1] if to else ""
    return re.sub(r"\D", "", user)


def caller_number(uri: str) -> str:
    match = re.search(r"(?:sips?|tel):\+?([^@;>]*)", uri or "", re.IGNORECASE)
    user = match[1] if match else ""
    return "" if user.lower() in ("anonymous", "unknown", "") else re.sub(r"[^\d+*#]", "", user)
