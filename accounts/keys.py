"""The API key format: `sk-wf_` + 32 base62 characters + a 6-character base62 CRC32 checksum of
everything before it. The checksum lets us reject mistyped or made-up keys without a database
lookup; the database holds only the SHA-256 of the whole key."""

import hashlib
import secrets
import string
import zlib

PREFIX = "sk-wf_"
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(head: str) -> str:
    return _base62(zlib.crc32(head.encode()), CHECKSUM_LENGTH)


def generate() -> str:
    head = PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(BODY_LENGTH))
    return head + checksum(head)


def is_well_formed(key: str) -> bool:
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX):
        return False
    if any(ch not in _ALPHABET for ch in key[len(PREFIX):]):
        return False
    head, tail = key[:-CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
    return secrets.compare_digest(checksum(head), tail)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
