"""Key-encryption keys (KEKs) behind one small interface, so that a cloud KMS or Vault transit can replace
the file.

A `KeyProvider` never hands out a KEK: it wraps and unwraps data keys (AES-GCM, the KEK's id bound into the
associated data) and MACs small records (HMAC-SHA256 with a key derived from the KEK). Every output names the
KEK it was made with, so after a rotation the old KEK stays usable for unwrapping and verifying while the new
one is used for everything written; `reelstream.crypto.keyring.stale` finds what still needs re-wrapping.

`FileKeyProvider` reads a directory (a mounted Kubernetes Secret): one `<key_id>.key` file per KEK holding 32
random bytes in base64, and a `current` file naming the KEK used for new material. Pure apart from reading
that directory in `load`; `StaticKeyProvider` is the same logic over keys in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from reelstream.errors import ConfigurationError, ReelstreamError

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_SUFFIX = ".key"
CURRENT_FILE = "current"
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAC_LABEL = b"reelstream mac key v1"


class KeyUnavailableError(ReelstreamError):
    """Material names a key this process does not have (never had it, or it was shredded/removed)."""

    code = "key_unavailable"


class DecryptionError(ReelstreamError):
    """A ciphertext or MAC that does not verify: tampered with, or moved to another record."""

    code = "decryption_failed"


@dataclass(frozen=True)
class Wrapped:
    """A data key wrapped by the KEK `kek_id`."""

    kek_id: str
    blob: bytes


class KeyProvider(Protocol):
    """What the services need from a key-management system. A KMS plugs in by implementing these four calls
    (AWS KMS Encrypt/Decrypt/GenerateMac/VerifyMac, Vault transit encrypt/decrypt/hmac/verify)."""

    @property
    def current_kek_id(self) -> str: ...

    def wrap(self, data_key: bytes, aad: bytes) -> Wrapped: ...

    def unwrap(self, wrapped: Wrapped, aad: bytes) -> bytes: ...

    def mac(self, data: bytes) -> str:
        """`<kek_id>:<hex HMAC>` of `data` under the current KEK."""
        ...

    def verify_mac(self, data: bytes, tag: str) -> bool: ...


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


class StaticKeyProvider:
    """KEKs held in memory: `keys` by id, `current` the one that wraps and MACs new material."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ConfigurationError(f"the current key-encryption key {current!r} is not among the keys")
        for key_id, key in keys.items():
            if not KEY_ID.fullmatch(key_id) or len(key) != KEY_BYTES:
                raise ConfigurationError(f"key-encryption key {key_id!r} must be {KEY_BYTES} bytes")
        self._keys = dict(keys)
        self._current = current

    @property
    def current_kek_id(self) -> str:
        return self._current

    @property
    def kek_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def _kek(self, kek_id: str) -> bytes:
        try:
            return self._keys[kek_id]
        except KeyError:
            raise KeyUnavailableError(f"key-encryption key {kek_id!r} is not available") from None

    def wrap(self, data_key: bytes, aad: bytes) -> Wrapped:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._kek(self._current)).encrypt(nonce, data_key, _bound(self._current, aad))
        return Wrapped(self._current, nonce + sealed)

    def unwrap(self, wrapped: Wrapped, aad: bytes) -> bytes:
        kek = self._kek(wrapped.kek_id)
        nonce, sealed = wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:]
        try:
            return AESGCM(kek).decrypt(nonce, sealed, _bound(wrapped.kek_id, aad))
        except InvalidTag:
            raise DecryptionError("a wrapped data key failed its integrity check") from None

    def mac(self, data: bytes) -> str:
        return f"{self._current}:{_hmac(self._kek(self._current), data)}"

    def verify_mac(self, data: bytes, tag: str) -> bool:
        kek_id, sep, digest = tag.partition(":")
        if not sep or kek_id not in self._keys:
            return False
        return hmac.compare_digest(_hmac(self._keys[kek_id], data), digest)


def _bound(kek_id: str, aad: bytes) -> bytes:
    return kek_id.encode() + b"\x00" + aad


def _hmac(kek: bytes, data: bytes) -> str:
    mac_key = hmac.new(kek, _MAC_LABEL, hashlib.sha256).digest()  # never the KEK itself
    return hmac.new(mac_key, data, hashlib.sha256).hexdigest()


class FileKeyProvider(StaticKeyProvider):
    """The KEKs of a directory (a mounted Kubernetes Secret); `load` reads it."""

    @classmethod
    def load(cls, directory: str | Path) -> FileKeyProvider:
        root = Path(directory)
        try:
            current = (root / CURRENT_FILE).read_text().strip()
            files = [p for p in root.iterdir() if p.name.endswith(KEY_SUFFIX)]
            keys = {p.name.removesuffix(KEY_SUFFIX): _decode(p) for p in files}
        except OSError as exc:
            raise ConfigurationError(f"cannot read the key directory {root}: {exc.strerror}") from None
        return cls(keys, current)


def _decode(path: Path) -> bytes:
    try:
        return base64.b64decode(path.read_text().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{path.name} is not base64") from None


def write_key(directory: str | Path, kek_id: str, *, make_current: bool = True) -> None:
    """Add a new random KEK to a key directory (dev stack, tests, a rotation runbook); 0600 files."""
    if not KEY_ID.fullmatch(kek_id):
        raise ConfigurationError(f"key id {kek_id!r} must match {KEY_ID.pattern}")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = root / f"{kek_id}{KEY_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(base64.b64encode(new_key()).decode("ascii"))
    if make_current:
        (root / CURRENT_FILE).write_text(kek_id)
