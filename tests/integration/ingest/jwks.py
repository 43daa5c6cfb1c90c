"""A JWKS served over HTTP on loopback by the tests, with keys they generate, and the tokens they sign."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ISSUER = "https://idp.test/"
AUDIENCE = "reelstream-api"

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Jwks:
    """The provider: its signing keys by kid; `published` are those its JWKS lists; `requests` counts
    fetches of the JWKS."""

    keys: dict[str, SigningKey] = field(default_factory=dict)
    published: set[str] = field(default_factory=set)
    requests: int = 0

    def add(self, kid: str, kind: str = "RS256", *, publish: bool = True) -> None:
        key: SigningKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        self.keys[kid] = key
        if publish:
            self.published.add(kid)

    def document(self) -> dict[str, Any]:
        found = []
        for kid in sorted(self.published):
            public = self.keys[kid].public_key()
            algorithm = (
                jwt.algorithms.RSAAlgorithm
                if isinstance(public, rsa.RSAPublicKey)
                else jwt.algorithms.ECAlgorithm
            )
            jwk = json.loads(algorithm.to_jwk(public))
            found.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": found}

    def app(self) -> Starlette:
        async def serve_jwks(request: Request) -> Response:
            self.requests += 1
            return JSONResponse(self.document())

        return Starlette(routes=[Route("/jwks.json", serve_jwks)])

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "tenant": "acme",
            "roles": ["submitter"],
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        return {k: v for k, v in {**base, **overrides}.items() if v is not None}

    def token(self, kid: str, *, alg: str | None = None, header_kid: str | None = None, **claims: Any) -> str:
        """A token signed by `kid`'s key (RS256 or ES256 by its type) naming `header_kid` (default: `kid`),
        claims overridden (None drops one)."""
        key = self.keys[kid]
        algorithm = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        chosen = kid if header_kid is None else header_kid
        headers = {"kid": chosen} if chosen else {}  # "" leaves the kid out
        return jwt.encode(self.claims(**claims), key, algorithm=algorithm, headers=headers)

    def unsigned(self, kid: str) -> str:
        """`alg: none`: no signature at all."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        return f"{header}.{_b64(json.dumps(self.claims()).encode())}."

    def hs256_with_public_key(self, kid: str) -> str:
        """HS256 keyed with the PEM of the RSA public key: valid only for a verifier that lets the header pick
        the algorithm and then uses the public key as an HMAC secret."""
        pem = (
            self.keys[kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        payload = _b64(json.dumps(self.claims()).encode())
        signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"
