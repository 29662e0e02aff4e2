"""The box's signing key (Ed25519, key_dir/signing.key, made when first needed): purge reports and
erasure certificates are signed with it, so anyone holding the box's public key can check that a report
is the box's and unaltered (`madoguchi purge verify`)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from db.keys import SIGNING_KEY, new_key_text, read_key, write_private_file


class SignatureProblem(Exception):
    """A signed document that does not verify; the message says why."""


def private_key(key_dir: Path) -> Ed25519PrivateKey:
    path = key_dir / SIGNING_KEY
    if not path.exists():
        write_private_file(path, new_key_text())
    return Ed25519PrivateKey.from_private_bytes(read_key(path))


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def _canonical(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(document: dict, key_dir: Path) -> dict:
    """The document with its signer's public key and the signature over both."""
    return sign_with(document, private_key(key_dir))


def sign_with(document: dict, key: Ed25519PrivateKey) -> dict:
    body = {**document, "public_key": public_hex(key)}
    return {**body, "signature": key.sign(_canonical(body)).hex()}


def verify(signed: dict, expected_public_hex: str | None = None) -> None:
    """SignatureProblem unless the signature holds (and, when given, the signer is that key)."""
    body = {k: v for k, v in signed.items() if k != "signature"}
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(body["public_key"]))
        public.verify(bytes.fromhex(signed["signature"]), _canonical(body))
    except (KeyError, ValueError, TypeError):
        raise SignatureProblem("this is not a signed madoguchi report (no signature or public key)") from None
    except InvalidSignature:
        raise SignatureProblem("the signature does not match: the report was altered") from None
    if expected_public_hex is not None and body["public_key"] != expected_public_hex:
        raise SignatureProblem("the report was signed by another key than this box's")
