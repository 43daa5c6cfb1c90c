"""Secrets at rest: key-encryption keys behind `KeyProvider` (a file / Kubernetes Secret here, a KMS or Vault
transit elsewhere), per-tenant data keys wrapped by them (`keyring`), and AES-GCM envelopes (`envelope`)."""
