"""The admin login locks out an account, and an address, after repeated failures."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
PASSWORD = "correct-horse-42"
LOCKED = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    cache.clear()
    yield
    cache.clear()


def login(username: str, password: str, address: str) -> tuple[bool, str]:
    """(logged in, page text) for one attempt from ``address``."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})
    return response.status_code == 302, response.content.decode()


def test_an_account_is_locked_after_repeated_failures_from_any_address(make_user):
    make_user("boss", is_staff=True)
    make_user("other", is_staff=True)
    for n in range(3):
        ok, page = login("boss", "wrong", f"192.0.2.{n}")
        assert not ok and LOCKED not in page
    ok, page = login("boss", PASSWORD, "192.0.2.99")  # the right password, too late
    assert not ok and LOCKED in page
    assert login("other", PASSWORD, "192.0.2.0")[0]  # other accounts are not affected


def test_an_address_is_locked_after_failures_on_many_accounts(make_user):
    make_user("boss", is_staff=True)
    for n in range(5):
        assert not login(f"guess{n}", "wrong", "198.51.100.1")[0]
    ok, page = login("boss", PASSWORD, "198.51.100.1")
    assert not ok and LOCKED in page
    assert login("boss", PASSWORD, "198.51.100.2")[0]  # from elsewhere the account works


def test_a_success_clears_the_accounts_failures(make_user):
    make_user("boss", is_staff=True)
    for _ in range(2):
        assert not login("boss", "wrong", "192.0.2.1")[0]
    assert login("boss", PASSWORD, "192.0.2.1")[0]
    for _ in range(2):
        assert not login("boss", "wrong", "192.0.2.1")[0]
    assert login("boss", PASSWORD, "192.0.2.1")[0]
