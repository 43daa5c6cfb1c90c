"""AES-256-GCM envelopes as text: `rsenc1.<data key id>.<base64url(nonce || ciphertext || tag)>`.

The data key's id travels with every ciphertext, so a reader finds the key (and after a key-encryption key
rotation, the same data key re-wrapped). The associated data binds a ciphertext to the record it belongs to
(tenant, record id, purpose): moved into another record, it fails to open. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from reelstream.crypto.provider import NONCE_BYTES, DecryptionError

VERSION = "rsenc1"
_SEP = "."


def seal(data_key: bytes, key_id: str, plaintext: bytes, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    body = nonce + AESGCM(data_key).encrypt(nonce, plaintext, _bound(key_id, aad))
    return _SEP.join((VERSION, key_id, base64.urlsafe_b64encode(body).decode("ascii")))


def key_id_of(sealed: str) -> str:
    """The id of the data key a sealed text needs; DecryptionError if it is not one."""
    return _parts(sealed)[1]


def open_sealed(data_key: bytes, sealed: str, aad: bytes) -> bytes:
    _, key_id, body = _parts(sealed)
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        return AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bound(key_id, aad))
    except (InvalidTag, binascii.Error, ValueError):
        raise DecryptionError("a sealed value failed its integrity check") from None


def is_sealed(text: str) -> bool:
    return text.startswith(VERSION + _SEP)


def _parts(sealed: str) -> tuple[str, str, str]:
    parts = sealed.split(_SEP)
    if len(parts) != 3 or parts[0] != VERSION or not parts[1]:
        raise DecryptionError("not a sealed value")
    return parts[0], parts[1], parts[2]


def _bound(key_id: str, aad: bytes) -> bytes:
    return key_id.encode() + b"\x00" + aad
