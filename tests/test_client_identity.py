"""Client identity for throttling: ``X-Forwarded-For`` counts only when the socket's peer is a proxy listed in
``GT_TRUSTED_PROXIES``; otherwise the socket's address is the client (a client cannot pick its own identity)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtcore.core.errors import ConfigError
from gtcore.core.settings import Settings
from gtcore.workforce.throttle import client_address


def test_without_trusted_proxies_the_socket_address_is_the_client() -> None:
    for peer in ("127.0.0.1", "10.1.2.3", "192.168.0.7", "203.0.113.5", "::1"):
        assert client_address(peer, "198.51.100.1, 198.51.100.2", ()) == peer


def test_a_peer_not_listed_cannot_forward_an_identity() -> None:
    assert client_address("10.9.9.9", "198.51.100.1", ("10.0.0.5/32",)) == "10.9.9.9"


def test_a_trusted_proxy_names_the_client_past_every_trusted_hop() -> None:
    trusted = ("10.0.0.0/24", "172.16.0.1/32")
    # the client wrote its own X-Forwarded-For (spoofed), the outer proxy appended the real address, the inner one
    # appended the outer proxy: the first address from the right that is not trusted is the client
    assert client_address("10.0.0.5", "6.6.6.6, 203.0.113.7, 172.16.0.1", trusted) == "203.0.113.7"
    assert client_address("10.0.0.5", "", trusted) == "10.0.0.5"  # a proxy that forwarded nothing is the client
    assert client_address("10.0.0.5", "not-an-ip", trusted) == "not-an-ip"
    assert client_address(None, "203.0.113.7", trusted) is None


def test_the_setting_is_read_and_checked(tmp_path: Path) -> None:
    s = Settings.from_env({"GT_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16 ,::1"}, cwd=tmp_path)
    assert s.trusted_proxies == ("10.0.0.5/32", "10.1.0.0/16", "::1/128")
    assert Settings.from_env({}, cwd=tmp_path).trusted_proxies == ()
    with pytest.raises(ConfigError, match="GT_TRUSTED_PROXIES.*'proxy.local'"):
        Settings.from_env({"GT_TRUSTED_PROXIES": "proxy.local"}, cwd=tmp_path)


def test_a_peer_the_server_already_rewrote_from_an_untrusted_proxy_is_one_shared_client() -> None:
    # uvicorn trusts loopback peers by default and puts the header's last hop in the peer's place
    assert client_address("203.0.113.9", "203.0.113.9", ()) == "forwarded-by-untrusted-proxy"
    assert client_address("203.0.113.9", "198.51.100.4, 203.0.113.9", ("10.0.0.0/8",)) == "forwarded-by-untrusted-proxy"
    # a local proxy listed in GT_TRUSTED_PROXIES: the server's rewrite is the client
    assert client_address("203.0.113.9", "203.0.113.9", ("127.0.0.1/32",)) == "203.0.113.9"
