"""Personal identifiers at rest: encrypted, found through a keyed hash, shown masked.

NIK and KK numbers have too little entropy for a plain hash (16 digits, half of them
a region code and a birth date), so lookups use HMAC-SHA256 under a secret key and the
value itself is stored with Fernet (AES-128-CBC + HMAC). Both keys are derived from the
one ``SLRT_PII_KEY`` with HKDF, so an operator keeps a single secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def new_key() -> str:
    """Return a fresh random master key, urlsafe base64 of 32 bytes."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class Vault:
    """Encrypts, decrypts and hashes personal identifiers with the app's key."""

    def __init__(self, app=None) -> None:
        self._fernet: Fernet | None = None
        self._hash_key: bytes | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app) -> None:
        raw = str(app.config["SLRT_PII_KEY"]).strip()
        try:
            master = base64.urlsafe_b64decode(raw.encode())
        except (ValueError, TypeError) as exc:
            raise RuntimeError("SLRT_PII_KEY is not urlsafe base64") from exc
        if len(master) < 32:
            raise RuntimeError("SLRT_PII_KEY must decode to at least 32 bytes")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(master, b"slrt-pii-encrypt")))
        self._hash_key = _derive(master, b"slrt-pii-lookup")
        app.extensions["slrt_vault"] = self

    def _ready(self) -> None:
        if self._fernet is None:
            raise RuntimeError("the PII vault is not bound to an app (call init_app)")

    def encrypt(self, value: str) -> str:
        self._ready()
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        self._ready()
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError("stored identifier does not decrypt with SLRT_PII_KEY") from exc

    def lookup_hash(self, kind: str, value: str) -> str:
        """Return the keyed hash that finds ``value`` of ``kind`` ('nik' or 'kk')."""
        self._ready()
        return hmac.new(self._hash_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def mask(number: str) -> str:
    """Return 3316********0001 for 3316011708450001: region and sequence, birth date hidden."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


vault = Vault()
