"""Secrets kept encrypted at rest: a workflow's webhook signing secret, and write-only node
params such as output:webhook's signing secret (see workflows/node_secrets.py).

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key derived from SECRET_KEY by
HKDF, so no second secret has to be deployed. Keys derived from SECRET_KEY_FALLBACKS still
decrypt, so rotating SECRET_KEY the Django way keeps stored secrets readable.

Team provider keys (accounts.ProviderKey) have a box of their own: ENCRYPTION_KEYS
(WIREFLOW_ENCRYPTION_KEYS, several secrets: the first encrypts, all decrypt), derived from
SECRET_KEY and its fallbacks when unset; `manage.py rotateproviderkeys` re-seals with the first.
"""

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_CONTEXT = b"wireflow webhook signing secret v1"


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_CONTEXT).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived)


@functools.cache
def _box(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in (secret_key, *fallbacks)])


def _current() -> MultiFernet:
    return _box(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def seal(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str | None:
    """The plaintext, or None if the token cannot be read (SECRET_KEY changed without a
    fallback, or the column was tampered with): callers must then fail closed."""
    try:
        return _current().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


# --- Team provider keys: a rotatable box ---------------------------------------------------------

_PROVIDER_CONTEXT = b"wireflow team provider key v1"


def _provider_fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_PROVIDER_CONTEXT).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


@functools.cache
def _provider_box_of(secrets: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_provider_fernet(secret) for secret in secrets])


def _provider_box() -> MultiFernet:
    secrets = tuple(getattr(settings, "ENCRYPTION_KEYS", ()) or ())
    if not secrets:
        secrets = (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))
    return _provider_box_of(secrets)


def seal_provider_key(plaintext: str) -> str:
    return _provider_box().encrypt(plaintext.encode()).decode()


def unseal_provider_key(token: str) -> str | None:
    """The plaintext, or None when no configured key reads it (callers fail closed)."""
    try:
        return _provider_box().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def reseal_provider_key(token: str) -> str:
    """The same plaintext sealed with the first key; raises InvalidToken if none reads it."""
    return _provider_box().rotate(token.encode()).decode()


# --- Write-only node params -------------------------------------------------------------------
# A node param is stored as SEALED_PREFIX + token, so a stored value is told from a plaintext
# one sent by a client (or saved before secrets were sealed); reads show PLACEHOLDER.

SEALED_PREFIX = "wf-sealed:v1:"
PLACEHOLDER = "********"


def seal_param(plaintext: str) -> str:
    return SEALED_PREFIX + seal(plaintext)


def is_sealed_param(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def reveal_param(value: str) -> str | None:
    """The plaintext of a stored param: unsealed, or as it is if it was never sealed. None if
    it cannot be unsealed (callers must fail closed)."""
    if not is_sealed_param(value):
        return value
    return unseal(value[len(SEALED_PREFIX):])
