"""Secrets at rest: an agency LRS's password is kept encrypted with AES-256-GCM.

Basic auth needs the password itself, so it cannot be hashed like our own clients' secrets. The key is
derived (HKDF-SHA-256) from the installation's secret key, which lives outside the database: a copy of
the database alone (a backup, a replica, a leaked dump) does not give the password away. The row's
identity (issuer and deployment) is bound in as associated data, so a sealed value copied onto
another target does not open there. Changing the secret key makes sealed values unreadable: the
target then reports the problem and waits for its password to be set again.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1:"
_INFO = b"upstander/lrs-target-password/v1"
_NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value that this key cannot open (another key, another row, or damaged)."""


class Sealer:
    """Seal and open short secrets with a key derived from the installation's secret key."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is required to seal secrets")
        key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
        self._aead = AESGCM(key)

    def seal(self, secret: str, context: str) -> str:
        """Return ``secret`` encrypted for the row named by ``context``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), context.encode())
        return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, context: str) -> str:
        """Return the secret sealed for ``context``; raise SealError when it cannot be opened."""
        if not sealed.startswith(VERSION):
            raise SealError("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(VERSION):].encode("ascii"))
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, ValueError, UnicodeError) as exc:
            raise SealError("the sealed value does not open with this key") from exc
