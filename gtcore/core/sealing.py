"""Stored secrets sealed with the server key (``GT_SECRET_KEY``): Fernet (AES-128-CBC + HMAC-SHA256) from the
``cryptography`` package, never a home-made cipher.

Each configured key is stretched to a Fernet key by HKDF-SHA256, so any long random string works as a key. Several
keys (comma-separated) rotate: the first seals, all of them unseal, and ``reseal`` moves a value to the first key.
"""

from __future__ import annotations

import base64

from gtcore.core.errors import ConfigError
from gtcore.core.settings import Settings

_INFO = b"gtcore sealed secrets v1"


def _fernet(settings: Settings):  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet, MultiFernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if not settings.secret_keys:
        raise ConfigError("no server key is set: set GT_SECRET_KEY (at least 32 random characters) to store secrets")
    fernets = []
    for key in settings.secret_keys:
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key.encode("utf-8"))
        fernets.append(Fernet(base64.urlsafe_b64encode(raw)))
    return MultiFernet(fernets)


def seal(settings: Settings, plaintext: str) -> str:
    """``plaintext`` encrypted and authenticated with the first server key (a URL-safe text token)."""
    return str(_fernet(settings).encrypt(plaintext.encode("utf-8")).decode("ascii"))


def unseal(settings: Settings, sealed: str) -> str:
    """The plaintext of ``sealed``; ConfigError when no configured key opens it (a key was removed or changed)."""
    from cryptography.fernet import InvalidToken

    try:
        return str(_fernet(settings).decrypt(sealed.encode("ascii")).decode("utf-8"))
    except (InvalidToken, ValueError):
        raise ConfigError(
            "a stored secret cannot be opened with GT_SECRET_KEY (the key changed?): keep the old key after the new "
            "one in GT_SECRET_KEY, or enter the secret again"
        ) from None
