"""The session cookie's single-use codes (gtcore.ui.session_cookie): the route swaps a code for the cookie once,
and only within ``CODE_SECONDS`` of its making (the browser tests post real codes through the route)."""

from __future__ import annotations

from gtcore.ui import session_cookie as sc


def test_a_code_works_once_and_only_within_its_lifetime() -> None:
    t = 1_000_000.0
    old = sc._park("set", "token-a", now=t)
    assert sc._take(old, now=t + sc.CODE_SECONDS + 0.01) is None  # too old
    assert sc._take(old, now=t) is None  # and gone
    fresh = sc._park("set", "token-b", now=t)
    assert sc._take(fresh, now=t + sc.CODE_SECONDS) == ("set", "token-b")  # at its last moment
    assert sc._take(fresh, now=t) is None  # used
    clear = sc._park("clear", None, now=t)
    assert sc._take(clear, now=t + 1) == ("clear", None)
    assert sc._take("an unknown code", now=t) is None
