"""Personal identifiers at rest: encrypted, found through a keyed hash, shown masked.

NIK and KK numbers have too little entropy for a plain hash (16 digits, half of them
a region code and a birth date), so lookups use HMAC-SHA256 under a secret key and the
value itself is stored with Fernet (AES-128-CBC + HMAC). Both keys are derived from the
one ``SLRT_PII_KEY`` with HKDF, so an operator keeps a single secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import time
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def new_key() -> str:
    """Return a fresh random master key, urlsafe base64 of 32 bytes."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class _Keys:
    """One app's derived keys: Fernet for the values, HMAC for the lookups."""

    def __init__(self, master_key: str) -> None:
        try:
            master = base64.urlsafe_b64decode(master_key.strip().encode())
        except (ValueError, TypeError) as exc:
            raise RuntimeError("SLRT_PII_KEY is not urlsafe base64") from exc
        if len(master) < 32:
            raise RuntimeError("SLRT_PII_KEY must decode to at least 32 bytes")
        fernet_key = _derive(master, b"slrt-pii-encrypt")
        self.fernet = Fernet(base64.urlsafe_b64encode(fernet_key))
        # Fernet's own split of its key: the first half signs, the second encrypts.
        self.signing_key, self.aes = fernet_key[:16], algorithms.AES(fernet_key[16:])
        self.hash_key = _derive(master, b"slrt-pii-lookup")


class Vault:
    """Encrypts, decrypts and hashes personal identifiers with the current app's key.

    The keys live in ``app.extensions``, so two apps in one process (tests, scripts)
    never share or overwrite each other's key.
    """

    def init_app(self, app) -> None:
        app.extensions["slrt_pii"] = _Keys(str(app.config["SLRT_PII_KEY"]))

    @staticmethod
    def _keys() -> _Keys:
        try:
            return current_app.extensions["slrt_pii"]
        except KeyError:
            raise RuntimeError("the PII vault is not bound to this app (call vault.init_app)") from None

    def encrypt(self, value: str) -> str:
        return self._keys().fernet.encrypt(value.encode()).decode()

    def encrypt_many(self, values: list[str]) -> list[str]:
        """:meth:`encrypt` for many values at a tenth of the cost: the same Fernet tokens (version, time,
        random IV, AES-128-CBC of the PKCS7-padded value, HMAC-SHA256 of all that; Fernet decrypts them).

        Fernet builds a cipher object per value, which costs more than the encryption. Here CBC is done
        as its definition says, C[i] = AES(P[i] xor C[i-1]) with C[-1] = IV, by one AES block encryptor
        for all values: the i-th blocks of every value go through it together, XORed with their chains'
        blocks as one number. Time read once.
        """
        if not values:
            return []
        keys = self._keys()
        padded = []
        for value in values:
            data = value.encode()
            pad = 16 - len(data) % 16
            padded.append(data + bytes((pad,)) * pad)
        # Longest first: the values still going at block i are then the first ``going[i]`` ones.
        order = sorted(range(len(padded)), key=lambda n: -len(padded[n]))
        padded = [padded[n] for n in order]
        blocks = len(padded[0]) // 16
        going = [sum(1 for data in padded if len(data) > 16 * i) for i in range(blocks)]
        ivs = os.urandom(16 * len(padded))
        block = Cipher(keys.aes, modes.ECB()).encryptor()  # one block at a time: CBC, above
        steps, chain = [], ivs
        for i in range(blocks):
            size = 16 * going[i]
            plain = b"".join(data[16 * i:16 * i + 16] for data in padded[:going[i]])
            chain = block.update((int.from_bytes(plain, "big") ^ int.from_bytes(chain[:size], "big"))
                                 .to_bytes(size, "big"))
            steps.append(chain)
        head = b"\x80" + struct.pack(">Q", int(time.time()))
        inner, outer = _hmac_states(keys.signing_key)
        inner.update(head)
        b2a, urlsafe = binascii.b2a_base64, _URLSAFE
        tokens = [""] * len(padded)
        for k, n in enumerate(order):
            at = 16 * k
            body = ivs[at:at + 16] + b"".join([step[at:at + 16] for step in steps[:len(padded[k]) >> 4]])
            mac = inner.copy()
            mac.update(body)
            signed = outer.copy()
            signed.update(mac.digest())
            tokens[n] = b2a(head + body + signed.digest(), newline=False).translate(urlsafe).decode()
        return tokens

    def decrypt(self, token: str) -> str:
        try:
            return self._keys().fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError("stored identifier does not decrypt with SLRT_PII_KEY") from exc

    def lookup_hash(self, kind: str, value: str) -> str:
        """Return the keyed hash that finds ``value`` of ``kind`` ('nik' or 'kk')."""
        return hmac.digest(self._keys().hash_key, f"{kind}:{value}".encode(), "sha256").hex()

    def hasher(self, kind: str) -> Callable[[str], str]:
        """:meth:`lookup_hash` for ``kind`` with the current app's key taken once: for a loop over many values."""
        inner, outer = _hmac_states(self._keys().hash_key)
        inner.update(f"{kind}:".encode())

        def lookup_hash(value: str) -> str:
            mac = inner.copy()
            mac.update(value.encode())
            signed = outer.copy()
            signed.update(mac.digest())
            return signed.hexdigest()

        return lookup_hash


#: What an erased value reads as, everywhere (name, NIK, KK, address, notes, an SMS's phone): slrt.erasure.
ERASED = "(dihapus)"

#: A run of 10 or more digits, with spaces, dots or dashes between them and an optional "+": a NIK, a KK
#: or a phone number as people type them (not a date, 20-11-2026, nor a letter's number, 470/12/2026).
_NUMBER_RUN = re.compile(r"\+?\d(?:[ .\-]?\d){9,}")


def mask_numbers(text: str) -> str:
    """``text`` with every NIK or KK number in it masked as lists show them (3316********0001) and any other
    long number (a phone) to its last four digits: free text kept where personal numbers may not be (the
    reason of an erasure or of a full export)."""
    def hidden(found: re.Match) -> str:
        digits = re.sub(r"\D", "", found.group(0))
        return mask(digits) if len(digits) == 16 else "*" * (len(digits) - 4) + digits[-4:]

    return _NUMBER_RUN.sub(hidden, text)


def mask(number: str) -> str:
    """Return 3316********0001 for 3316011708450001: region and sequence, birth date hidden."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


vault = Vault()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _hmac_states(key: bytes) -> tuple:
    """HMAC-SHA256 under ``key`` (RFC 2104) as its two hash states after the padded key: a message's MAC is
    outer.copy() updated with (inner.copy() updated with the message).digest(). The same MACs as
    hmac.new(key, message, "sha256"), at 60 % of its time for a short message (copies made in C, no
    Python HMAC object per message): what loops over many values use."""
    key = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))
