"""Password hashing (scrypt), temporary passwords and the rules a new password must meet.

Hashes are self-describing strings so the cost parameters can change later without breaking
stored hashes::

    scrypt$n=16384,r=8,p=1$<salt, urlsafe base64>$<key, urlsafe base64>

``verify_password`` reads the parameters from the string; ``needs_rehash`` tells when a stored
hash uses parameters other than the current ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
from typing import Any

from gtcore.core.errors import Problem, ValidationError

SCHEME = "scrypt"
N = 2**14
R = 8
P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_LENGTH = 10
MAX_LENGTH = 256
# zxcvbn's score (0-4) a new password needs: 3 is "safely unguessable: moderate protection from offline
# slow-hash scenario" (~10^8 guesses), plenty behind scrypt and the sign-in throttle
MIN_SCORE = 3
_ESTIMATE_CHARS = 100  # zxcvbn's time grows with the length; a longer password is judged on its first 100
# scrypt needs 128 * n * r bytes; leave room for larger future parameters
_MAXMEM = 256 * 1024 * 1024

# no look-alike characters (0/O, 1/l/I) so a password read from an e-mail can be typed back
_TEMP_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
_TEMP_LENGTH = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_MAXMEM)


def hash_password(password: str) -> str:
    """Hash ``password`` with a fresh random salt; returns the encoded string to store."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P, KEY_BYTES)
    return f"{SCHEME}$n={N},r={R},p={P}${_b64(salt)}${_b64(key)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        scheme, params, salt_b64, key_b64 = encoded.split("$")
        if scheme != SCHEME:
            return None
        values = dict(part.split("=", 1) for part in params.split(","))
        n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
        salt, key = _unb64(salt_b64), _unb64(key_b64)
    except (ValueError, KeyError):
        return None
    if n < 2 or n & (n - 1) or not (1 <= r <= 64 and 1 <= p <= 16) or not salt or not key:
        return None
    return n, r, p, salt, key


# used when the account does not exist, so an unknown e-mail costs the same time as a wrong password
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, encoded: str | None) -> bool:
    """True when ``password`` matches ``encoded``. Constant-time compare; an absent or unreadable
    hash still spends one KDF run so the caller's timing does not reveal which case happened."""
    parsed = _parse(encoded) if encoded else None
    if parsed is None:
        _n, _r, _p, salt, key = _parse(_DUMMY_HASH)  # type: ignore[misc]
        hmac.compare_digest(_derive(password, salt, N, R, P, len(key)), key)
        return False
    n, r, p, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, n, r, p, len(key)), key)


def needs_rehash(encoded: str) -> bool:
    """True when the stored hash was made with parameters other than the current ones."""
    parsed = _parse(encoded)
    return parsed is None or parsed[:3] != (N, R, P) or len(parsed[3]) != SALT_BYTES


def generate_temporary_password() -> str:
    """A random temporary password: 16 characters with lower case, upper case and digits (~93 bits)."""
    while True:
        pw = "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(_TEMP_LENGTH))
        if any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw):
            return pw


def _context_words(email: str, name: str | None) -> list[str]:
    """The user's own words a password must not lean on: the address, its user name and its parts, the name."""
    mail = email.strip().lower()
    local, _, domain = mail.partition("@")
    words = [mail, local, re.sub(r"[._+\-]+", "", local), domain.split(".")[0], *re.split(r"[._+\-]+", local)]
    if name:
        folded = name.strip().lower()
        words += [folded, re.sub(r"\W+", "", folded), *re.split(r"\W+", folded)]
    return sorted({w for w in words if len(w) >= 3})


def strength_problem(new_password: str, email: str, name: str | None = None) -> str | None:
    """Why zxcvbn finds ``new_password`` too easy to guess for this user (None when it is strong enough)."""
    from zxcvbn import zxcvbn

    result: dict[str, Any] = zxcvbn(new_password[:_ESTIMATE_CHARS], user_inputs=_context_words(email, name))
    if int(result["score"]) >= MIN_SCORE:
        return None
    reasons = []
    if any(m.get("dictionary_name") == "user_inputs" for m in result.get("sequence", [])):
        reasons.append("it is built on your own e-mail address or name")
    feedback = result.get("feedback") or {}
    if feedback.get("warning"):
        reasons.append(str(feedback["warning"]).rstrip(".").lower())
    reasons += [str(s).rstrip(".").lower() for s in feedback.get("suggestions", [])][:2]
    why = "; ".join(reasons) or "it follows a common pattern"
    return f"is too easy to guess (strength {result['score']} of 4, at least {MIN_SCORE} needed): {why}"


def password_problems(
    new_password: str, email: str, current_password: str | None = None, name: str | None = None
) -> list[Problem]:
    """Every rule the new password breaks (empty list when it is acceptable). Strength is judged by zxcvbn
    with the user's e-mail address and ``name`` as words an attacker would try first."""
    problems: list[Problem] = []
    field = "new_password"
    if len(new_password) < MIN_LENGTH:
        problems.append(Problem(f"must be at least {MIN_LENGTH} characters long", field=field))
    if len(new_password) > MAX_LENGTH:
        problems.append(Problem(f"must be at most {MAX_LENGTH} characters long", field=field))
    folded = new_password.strip().casefold()
    mail = email.strip().casefold()
    local = mail.split("@", 1)[0]
    if folded and folded in (mail, local):
        problems.append(Problem("must not be your e-mail address or its user name", field=field))
    if current_password is not None and hmac.compare_digest(
        new_password.encode("utf-8"), current_password.encode("utf-8")
    ):
        problems.append(Problem("must differ from the current (temporary) password", field=field))
    if new_password and len(set(new_password)) == 1:
        problems.append(Problem("must not repeat one character", field=field))
    if not problems and new_password:
        why = strength_problem(new_password, email, name)
        if why:
            problems.append(Problem(why, field=field))
    return problems


def check_new_password(
    new_password: str, email: str, current_password: str | None = None, name: str | None = None
) -> None:
    """Raise ValidationError listing every rule ``new_password`` breaks."""
    problems = password_problems(new_password, email, current_password, name)
    if problems:
        raise ValidationError(problems, summary="the new password is not acceptable")
