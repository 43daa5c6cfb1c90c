"""The envelope, the tenant keyring and the file key provider: round trips, binding, rotation, shredding."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.crypto.keyring import Keyring
from reelstream.crypto.provider import (
    DecryptionError,
    FileKeyProvider,
    KeyUnavailableError,
    StaticKeyProvider,
    new_key,
    write_key,
)
from reelstream.errors import ConfigurationError


def _ring(provider: StaticKeyProvider, *tenants: str) -> Keyring:
    ring = Keyring(provider)
    for tenant in tenants:
        ring.put(ring.issue(tenant))
    return ring


PROVIDER = StaticKeyProvider({"k1": new_key()}, "k1")


@given(st.binary(max_size=256), st.text(min_size=1, max_size=20))
def test_a_sealed_value_opens_only_for_its_own_tenant_and_context(plaintext: bytes, context: str) -> None:
    ring = _ring(PROVIDER, "acme", "globex")
    sealed = ring.seal("acme", context, plaintext)
    assert len(plaintext) < 8 or plaintext not in sealed.encode()
    assert ring.open("acme", context, sealed) == plaintext
    with pytest.raises(DecryptionError):
        ring.open("acme", context + "x", sealed)
    with pytest.raises((DecryptionError, KeyUnavailableError)):
        ring.open("globex", context, sealed)


def test_a_tampered_ciphertext_does_not_open() -> None:
    ring = _ring(PROVIDER, "acme")
    sealed = ring.seal("acme", "c", b"whsec_abc")
    body = sealed.rsplit(".", 1)
    flipped = body[1][:-2] + ("A" if body[1][-2] != "A" else "B") + body[1][-1]
    with pytest.raises(DecryptionError):
        ring.open("acme", "c", f"{body[0]}.{flipped}")
    with pytest.raises(DecryptionError):
        ring.open("acme", "c", "whsec_plain")


def test_a_tenant_without_a_key_cannot_seal_and_a_shredded_key_opens_nothing() -> None:
    ring = Keyring(PROVIDER)
    with pytest.raises(KeyUnavailableError):
        ring.seal("acme", "c", b"x")
    record = ring.issue("acme")
    ring.put(record)
    sealed = ring.seal("acme", "c", b"x")
    assert ring.shred("acme", record.key_id)
    with pytest.raises(KeyUnavailableError):
        ring.open("acme", "c", sealed)


def test_the_newest_data_key_seals_and_every_one_held_opens() -> None:
    ring = _ring(PROVIDER, "acme")
    old = ring.seal("acme", "c", b"old")
    held = ring.current("acme")
    assert held is not None
    newer = ring.issue("acme", now=held.created_at + timedelta(seconds=1))
    ring.put(newer)
    assert ring.current("acme") == newer
    assert f".{newer.key_id}." in ring.seal("acme", "c", b"new")
    assert ring.open("acme", "c", old) == b"old"


def test_rotating_the_kek_rewraps_the_data_keys_and_old_ciphertexts_still_open() -> None:
    k1, k2 = new_key(), new_key()
    before = _ring(StaticKeyProvider({"k1": k1}, "k1"), "acme", "globex")
    sealed = before.seal("acme", "webhook-secret/whsk_1", b"whsec_x")
    records = [before.current(t) for t in ("acme", "globex")]
    # step 1: the services run with both KEKs, k2 current; the records are still wrapped by k1
    during = Keyring(StaticKeyProvider({"k1": k1, "k2": k2}, "k2"))
    for record in records:
        assert record is not None
        during.put(record)
    assert during.open("acme", "webhook-secret/whsk_1", sealed) == b"whsec_x"
    rewrapped = during.stale()
    assert sorted(r.key_id for r in rewrapped) == sorted(r.key_id for r in records if r is not None)
    assert all(r.kek_id == "k2" for r in rewrapped)
    # step 2: the old KEK is gone; the re-wrapped records open what was sealed before the rotation
    after = Keyring(StaticKeyProvider({"k2": k2}, "k2"))
    for record in rewrapped:
        after.put(record)
    assert after.stale() == []
    assert after.open("acme", "webhook-secret/whsk_1", sealed) == b"whsec_x"
    # and without re-wrapping they would not
    stale_only = Keyring(StaticKeyProvider({"k2": k2}, "k2"))
    for record in records:
        assert record is not None
        stale_only.put(record)
    with pytest.raises(KeyUnavailableError):
        stale_only.open("acme", "webhook-secret/whsk_1", sealed)


def test_a_wrapped_key_moved_to_another_tenant_does_not_unwrap() -> None:
    ring = _ring(PROVIDER, "acme")
    record = ring.current("acme")
    assert record is not None
    sealed = ring.seal("acme", "c", b"x")
    thief = Keyring(PROVIDER)
    thief.put(dataclasses.replace(record, tenant_id="globex"))
    assert thief.current("globex") is None  # it does not unwrap as globex's: never used to seal
    with pytest.raises(KeyUnavailableError):
        thief.seal("globex", "c", b"x")
    with pytest.raises(DecryptionError):
        thief.open("globex", "c", sealed)


def test_a_per_job_key_sealed_under_the_tenant_key_round_trips() -> None:
    ring = _ring(PROVIDER, "acme")
    job_key = new_key()
    wrapped = ring.seal("acme", "job-key/j1", job_key)
    assert ring.open("acme", "job-key/j1", wrapped) == job_key


def test_the_file_provider_reads_a_key_directory_and_its_current_key(tmp_path: Path) -> None:
    write_key(tmp_path, "k1")
    first = FileKeyProvider.load(tmp_path)
    tag = first.mac(b"data")
    write_key(tmp_path, "k2")
    second = FileKeyProvider.load(tmp_path)
    assert second.current_kek_id == "k2"
    assert second.kek_ids == {"k1", "k2"}
    assert second.verify_mac(b"data", tag)
    assert not second.verify_mac(b"other", tag)
    assert tag.startswith("k1:")
    assert second.mac(b"data").startswith("k2:")
    assert not second.verify_mac(b"data", "k3:" + tag.split(":")[1])
    assert not second.verify_mac(b"data", "x")
    assert oct((tmp_path / "k2.key").stat().st_mode & 0o777) == "0o600"


def test_a_key_directory_that_is_missing_or_wrong_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        FileKeyProvider.load(tmp_path / "absent")
    write_key(tmp_path, "k1")
    (tmp_path / "current").write_text("k9")
    with pytest.raises(ConfigurationError, match="k9"):
        FileKeyProvider.load(tmp_path)
    (tmp_path / "current").write_text("k1")
    (tmp_path / "k1.key").write_text("not base64!")
    with pytest.raises(ConfigurationError, match="base64"):
        FileKeyProvider.load(tmp_path)


def test_a_data_key_under_a_kek_no_longer_held_is_neither_used_to_seal_nor_rewrapped() -> None:
    old = Keyring(StaticKeyProvider({"gone": new_key()}, "gone"))
    orphan = old.issue("acme")
    ring = Keyring(PROVIDER)
    ring.put(orphan)
    assert ring.current("acme") is None
    assert ring.stale() == []
    usable = ring.issue("acme", now=orphan.created_at - timedelta(days=1))  # older, but it unwraps
    ring.put(usable)
    assert ring.current("acme") == usable
    assert f".{usable.key_id}." in ring.seal("acme", "c", b"x")
