"""One notion of the client address, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import pytest

from livestream.client_address import client_address, scope_client_address


def test_without_trusted_proxies_the_peer_is_the_client(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_a_trusted_proxy_names_the_client(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    assert client_address("127.0.0.1", "198.51.100.1") == "198.51.100.1"


def test_a_spoofed_left_part_of_the_header_is_ignored(settings):
    # nginx appends the real peer to whatever the client sent.
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.1") == "198.51.100.1"


def test_chains_of_trusted_proxies_are_walked_from_the_right(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1/32"]
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3") == "198.51.100.1"


def test_an_untrusted_peer_cannot_forward(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address("203.0.113.9", "198.51.100.1") == "203.0.113.9"


@pytest.mark.parametrize("garbage", ["", "not-an-ip", "1.2.3.4.5", " , ,"])
def test_garbage_from_a_trusted_hop_stops_at_that_hop(settings, garbage):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    assert client_address("127.0.0.1", garbage) == "127.0.0.1"


def test_ports_brackets_and_mapped_addresses_are_normalised(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    assert client_address("::ffff:127.0.0.1", "[2001:db8::1]:443") == "2001:db8::1"
    assert client_address("127.0.0.1", "198.51.100.1:5000") == "198.51.100.1"


def test_asgi_scope(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"198.51.100.7")]}
    assert scope_client_address(scope) == "198.51.100.7"
    assert scope_client_address({"client": None, "headers": []}) == "unknown"


def test_a_huge_header_is_handled_in_one_pass(settings):
    settings.TRUSTED_PROXIES = ["0.0.0.0/0"]
    assert client_address("127.0.0.1", "1.1.1.1," * 100_000 + "2.2.2.2") == "1.1.1.1"
