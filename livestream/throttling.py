"""DRF throttles keyed on the real client address.

DRF's own ``get_ident`` keys on the whole ``X-Forwarded-For`` header unless
``NUM_PROXIES`` is set, so a client that writes a new header on each request
is never throttled, and one that writes a victim's address spends the victim's
budget. Every throttle of the project derives from :class:`ScopedClientThrottle`
which asks :mod:`livestream.client_address`.
"""

from __future__ import annotations

from rest_framework.throttling import ScopedRateThrottle

from livestream.client_address import request_client_address


class ScopedClientThrottle(ScopedRateThrottle):
    """``ScopedRateThrottle`` per client address (anonymous) or per user (signed in)."""

    def get_ident(self, request) -> str:
        return request_client_address(request)
