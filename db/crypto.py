"""Field-level encryption (AES-256-GCM) with a versioned envelope, and keyed blind indexes.

Envelope: version byte 0x01 | key id (2 bytes, big-endian) | nonce (12 bytes) | ciphertext+tag.
The associated data is the field's "table.column", so a value copied into another column fails to
decrypt instead of being read as something else.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from db.keys import KeyRing

ENVELOPE_VERSION = 1
_HEADER = struct.Struct(">BH")
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A field value that cannot be decrypted (unknown key id, tampered or misplaced)."""


class FieldCipher:
    def __init__(self, keyring: KeyRing):
        self.keyring = keyring
        self._aead = {key_id: AESGCM(key) for key_id, key in keyring.field_keys.items()}
        self.current_key_id = keyring.current_field_key_id

    def encrypt(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        header = _HEADER.pack(ENVELOPE_VERSION, self.current_key_id)
        ciphertext = self._aead[self.current_key_id].encrypt(nonce, plaintext.encode(), context.encode())
        return header + nonce + ciphertext

    def decrypt(self, envelope: bytes, context: str) -> str:
        envelope = bytes(envelope)
        if len(envelope) < _HEADER.size + NONCE_BYTES + 16:
            raise DecryptionError(f"{context}: value too short to be an envelope")
        version, key_id = _HEADER.unpack_from(envelope)
        if version != ENVELOPE_VERSION:
            raise DecryptionError(f"{context}: unknown envelope version {version}")
        if key_id not in self._aead:
            raise DecryptionError(f"{context}: field key {key_id} is not in the key folder")
        nonce = envelope[_HEADER.size:_HEADER.size + NONCE_BYTES]
        try:
            plaintext = self._aead[key_id].decrypt(nonce, envelope[_HEADER.size + NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise DecryptionError(f"{context}: value was tampered with or belongs elsewhere") from None
        return plaintext.decode()

    def file_key(self, key_id: int) -> bytes:
        """For db.files: recordings, transcripts and the mail store are under the field keys."""
        if key_id not in self.keyring.field_keys:
            raise DecryptionError(f"field key {key_id} is not in the key folder")
        return self.keyring.field_keys[key_id]

    @staticmethod
    def key_id_of(envelope: bytes) -> int:
        return _HEADER.unpack_from(bytes(envelope))[1]

    def blind_index(self, value: str, purpose: str) -> str:
        """A keyed, deterministic token for equality look-ups; the plaintext cannot be recovered."""
        digest = hmac.new(self.keyring.index_key, f"{purpose}\x00{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]


_cipher: FieldCipher | None = None


def install(cipher: FieldCipher | None) -> None:
    global _cipher
    _cipher = cipher


def cipher() -> FieldCipher:
    if _cipher is None:
        raise RuntimeError("field encryption is not set up: open the database first")
    return _cipher


def same_text(a: str, b: str) -> bool:
    """Constant-time equality of two texts, whatever they hold (hmac.compare_digest refuses str with
    non-ASCII characters, which anyone can type or send)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
