"""The local stack's TLS material, made at its first start: a CA of its own and a broker certificate for
127.0.0.1 (an IP SAN: the controller's connection checks the host name), with an unencrypted PKCS#8 key
(JDK 17 cannot read OpenSSL 3's default encrypted PKCS#8). Kept in the broker's data folder; clients trust
`ca.pem`. The CA's key stays there too (owner-only), so that the stack's other servers (the schema registry)
get certificates from the same CA (`server_cert`)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

BROKER_CN = "reelstream-dev-broker"
VALID_DAYS = 3650


@dataclass(frozen=True)
class BrokerTls:
    """Where the CA and the broker's key store (key, certificate, CA: one PEM file) are."""

    folder: Path

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.folder / "broker-keystore.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    def has_secret(self, name: str) -> bool:
        return (self.folder / f"{name}.password").exists()

    def secret(self, name: str) -> str:
        """A random password kept in this folder (made on first use): the broker's users keep theirs
        between restarts of a persistent stack."""
        path = self.folder / f"{name}.password"
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_private(path, secrets.token_urlsafe(24).encode())
        return path.read_text().strip()

    @property
    def principal(self) -> str:
        """The broker's own principal on the SSL controller listener (a super user)."""
        return f"User:CN={BROKER_CN}"

    def ensure(self) -> BrokerTls:
        """Make the CA and the broker certificate unless they exist already (a folder made before the CA's
        key was kept gets a new CA and broker certificate: clients read `ca.pem` at every start)."""
        if self.ca_file.exists() and self.keystore.exists() and self.ca_key.exists():
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        ca_key = rsa.generate_private_key(65537, 2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reelstream-dev-ca")])
        ca = (
            _builder(ca_name, ca_name, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(self.ca_key, _key_pem(ca_key))
        self.ca_file.write_bytes(ca.public_bytes(PEM))
        key_pem, cert_pem = self._issue(BROKER_CN)
        _write_private(self.keystore, key_pem + cert_pem + self.ca_file.read_bytes())
        return self

    def server_cert(self, name: str) -> tuple[Path, Path]:
        """The certificate and key files of the stack's server `name` (made on first use, signed by the CA,
        for 127.0.0.1 and localhost)."""
        cert, key = self.folder / f"{name}.crt", self.folder / f"{name}.key"
        if not (cert.exists() and key.exists()):
            key_pem, cert_pem = self.ensure()._issue(f"reelstream-dev-{name}")
            _write_private(key, key_pem)
            cert.write_bytes(cert_pem)
        return cert, key

    def _issue(self, common_name: str) -> tuple[bytes, bytes]:
        """A new key (PEM, unencrypted PKCS#8) and its server certificate (PEM) signed by the CA."""
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        assert isinstance(ca_key, rsa.RSAPrivateKey)  # made by ensure()
        ca = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = rsa.generate_private_key(65537, 2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        san = x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        )
        cert = (
            _builder(name, ca.subject, key.public_key())
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        return _key_pem(key), cert.public_bytes(PEM)


PEM = serialization.Encoding.PEM


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _builder(subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
