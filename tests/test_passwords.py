import base64
import hashlib

import pytest

from gtcore.core.errors import ValidationError
from gtcore.workforce import passwords


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def test_hash_is_scrypt_with_params_and_random_salt() -> None:
    h = passwords.hash_password("a fine password")
    scheme, params, salt, key = h.split("$")
    assert scheme == "scrypt"
    assert params == "n=16384,r=8,p=1"
    assert len(_unb64(salt)) == 16
    # the stored key is exactly scrypt(password, salt) with the stated parameters
    expected = hashlib.scrypt(b"a fine password", salt=_unb64(salt), n=16384, r=8, p=1, dklen=32)
    assert _unb64(key) == expected
    assert "a fine password" not in h
    assert passwords.hash_password("a fine password") != h  # fresh salt each time


def test_verify_right_and_wrong() -> None:
    h = passwords.hash_password("s3cret-Password")
    assert passwords.verify_password("s3cret-Password", h)
    assert not passwords.verify_password("s3cret-password", h)
    assert not passwords.verify_password("", h)
    assert not passwords.needs_rehash(h)


def test_verify_reads_parameters_from_the_string() -> None:
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"older hash", salt=salt, n=2**12, r=8, p=1, dklen=32)
    enc = "scrypt$n=4096,r=8,p=1$" + base64.urlsafe_b64encode(salt).decode().rstrip("=") + "$"
    enc += base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert passwords.verify_password("older hash", enc)
    assert not passwords.verify_password("older hasH", enc)
    assert passwords.needs_rehash(enc)


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "plain-text-password",
        "bcrypt$x$y$z",
        "scrypt$n=3,r=8,p=1$AAAA$AAAA",
        "scrypt$n=16384$AA$AA",
        "scrypt$$$",
    ],
)
def test_verify_unreadable_hash_is_false(stored: str | None) -> None:
    assert passwords.verify_password("plain-text-password", stored) is False


def test_temporary_passwords() -> None:
    seen = {passwords.generate_temporary_password() for _ in range(200)}
    assert len(seen) == 200
    for pw in seen:
        assert len(pw) == 16
        assert any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
        assert not set(pw) & set("0O1lI")
        assert passwords.password_problems(pw, "someone@example.com") == []


def test_password_rules_collect_every_problem() -> None:
    probs = passwords.password_problems("aaaa", "a@b.co", current_password="aaaa")
    text = " | ".join(p.message for p in probs)
    assert "at least 10" in text
    assert "differ from the current" in text
    assert "repeat one character" in text
    assert all(p.field == "new_password" for p in probs)


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ("short", "at least 10"),
        ("Worker.One@Example.com", "e-mail"),
        ("worker.one@example.com", "e-mail"),
        ("worker.one", "e-mail"),
        ("x" * 257, "at most 256"),
        ("bbbbbbbbbbbb", "repeat"),
    ],
)
def test_password_rule(new: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        passwords.check_new_password(new, "worker.one@example.com")
    assert fragment in str(exc.value)


def test_same_as_temporary_refused_and_good_password_accepted() -> None:
    with pytest.raises(ValidationError, match="differ from the current"):
        passwords.check_new_password("TempPass12345", "w@example.com", current_password="TempPass12345")
    passwords.check_new_password("a good long passphrase", "w@example.com", current_password="TempPass12345")


@pytest.mark.parametrize("weak", ["password12", "1234567890", "Password123", "alice.smith2024", "AliceSmith99"])
def test_weak_passwords_are_refused_with_the_reason(weak: str) -> None:
    problems = [str(p) for p in passwords.password_problems(weak, "alice.smith@example.com", name="Alice Smith")]
    assert problems and "too easy to guess" in problems[0], (weak, problems)
    assert "strength" in problems[0] and ":" in problems[0].split("needed")[1]  # says why


def test_own_address_in_the_password_is_named_as_the_reason() -> None:
    (problem,) = passwords.password_problems("zorblatt2024", "zorblatt@example.com")
    assert "your own e-mail address or name" in str(problem)


def test_strong_passwords_pass() -> None:
    for strong in ("correct horse battery staple", "Xk7pq2mZr9vB", "tide-lamp-orbit-quince"):
        assert passwords.password_problems(strong, "alice.smith@example.com", name="Alice Smith") == []
