"""A spoofed X-Forwarded-For neither bypasses nor poisons the login throttle.

Played against real servers with clients on distinct local addresses: an
attacker on 127.0.0.2 writes a fresh header on every guess, including the
victim's address; the victim on 127.0.0.3 keeps their whole budget.
"""

from __future__ import annotations

import shutil

import pytest
from django.core.cache import cache

from tests.servers import ProxiedCluster
from tests.support import post_json

RATE = "3/min"
ATTACKER, VICTIM = "127.0.0.2", "127.0.0.3"
TOKEN = "/api/auth/token/"
GUESS = {"username": "victim", "password": "wrong-guess"}
SPOOFED = ["203.0.113.1", VICTIM, f"{VICTIM}, 127.0.0.1", "198.51.100.7", "garbage"]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def attack_then_login(url: str) -> tuple[list[int], int]:
    attacker = [
        post_json(url, TOKEN, GUESS, source=ATTACKER, headers={"X-Forwarded-For": spoofed})
        for spoofed in SPOOFED
    ]
    return attacker, post_json(url, TOKEN, GUESS, source=VICTIM)


def assert_throttled_by_real_address(attacker: list[int], victim: int) -> None:
    assert attacker == [401, 401, 401, 429, 429]  # no bypass: one budget for 127.0.0.2
    assert victim == 401  # no poisoning: 127.0.0.3's budget is untouched


def test_direct_spoofed_forwarded_for_neither_bypasses_nor_poisons(start_server):
    server = start_server(AUTH_THROTTLE_RATE=RATE)
    assert_throttled_by_real_address(*attack_then_login(server.url))


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_through_nginx_spoofed_forwarded_for_neither_bypasses_nor_poisons(server_logs):
    cluster = ProxiedCluster(server_logs, workers=2, AUTH_THROTTLE_RATE=RATE).start()
    try:
        assert_throttled_by_real_address(*attack_then_login(cluster.url))
    finally:
        cluster.stop()
