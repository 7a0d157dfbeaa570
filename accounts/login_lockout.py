"""Admin login lockout: repeated failures lock an account, and an address, for a while.

Failures are counted in the Django cache (Redis, shared by every worker) per
account and per client address (:mod:`livestream.client_address`), each in a
window of ``ADMIN_LOGIN_LOCKOUT_SECONDS`` from the first failure. While either
count is at its limit every attempt is refused, right password or not, so
guessing gains nothing; a successful login clears the account's count.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

LOCKED_OUT = (
    "Too many failed login attempts for this account or from this address. "
    "Try again in {minutes} minutes."
)


def _key(kind: str, value: str) -> str:
    # Hashed: usernames may hold characters a cache key must not.
    digest = hashlib.sha256(value.casefold().encode("utf-8", "surrogatepass")).hexdigest()
    return f"admin-login-failures:{kind}:{digest}"


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    return [
        (_key("account", username), settings.ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT),
        (_key("address", address), settings.ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]


def locked_out_message(*, username: str, address: str) -> str | None:
    """The message to show when this attempt must be refused unheard, else None."""
    counts = cache.get_many([key for key, _ in _keys(username, address)])
    if any(counts.get(key, 0) >= limit for key, limit in _keys(username, address)):
        return LOCKED_OUT.format(minutes=max(1, settings.ADMIN_LOGIN_LOCKOUT_SECONDS // 60))
    return None


def record_failure(*, username: str, address: str) -> None:
    for key, _ in _keys(username, address):
        cache.add(key, 0, timeout=settings.ADMIN_LOGIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=settings.ADMIN_LOGIN_LOCKOUT_SECONDS)  # expired meanwhile


def record_success(*, username: str) -> None:
    cache.delete(_key("account", username))
