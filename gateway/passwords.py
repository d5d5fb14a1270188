"""Password hashes for protocol accounts (Z39.50 logins, later SIP2 terminals).

Configuration files hold hashes, never passwords: ``scrypt$N$r$p$salt$hash`` with
base64 salt and hash, so a leaked file does not give away a login, and verification takes
a deliberate few tens of milliseconds (run it off the network thread).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

__all__ = ["hash_password", "verify_password", "is_password_hash"]

_N, _R, _P = 16384, 8, 1
_FORMAT = re.compile(r"^scrypt\$(\d{1,7})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$"
                     r"([A-Za-z0-9+/]+={0,2})$")  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    """Unpadded base64 to bytes; b"" for text that is not base64 (a truncated hash)."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password`` in the configuration's format."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


_MAX_MEMORY = 256 * 1024 * 1024  # what one verification may use (scrypt needs 128*r*N)


def is_password_hash(text: str) -> bool:
    """True when ``text`` has the hash format with parameters a login can afford (memory
    within the verification's limit, at most 4-way parallel), a salt of at least 16
    bytes and a 32-byte digest: a truncated or weakened hash is refused at config check."""
    match = _FORMAT.match(text)
    if not match:
        return False
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    if not (2**10 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 4):
        return False
    if 128 * r * n > _MAX_MEMORY // 2:
        return False
    return len(_unb64(match.group(4))) >= 16 and len(_unb64(match.group(5))) == 32


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the ``stored`` hash (constant-time comparison)."""
    match = _FORMAT.match(stored)
    if not match or not is_password_hash(stored):
        return False
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    expected = _unb64(match.group(5))
    try:
        digest = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(match.group(4)), n=n,
                                r=r, p=p, dklen=len(expected), maxmem=_MAX_MEMORY)  # fmt: skip
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)
