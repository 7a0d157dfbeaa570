"""Which browser origins may open a session: ``settings.ALLOWED_ORIGINS``.

A pattern is an origin (``https://app.example.com``), the same with ``:*`` for
any port (``http://localhost:*``), or ``*`` for every origin. Matching ignores
case and a trailing slash. Requests without an Origin header (native apps,
server-side clients) are not browser requests and are always allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings


def _normal(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_matches(origin: str, patterns: Iterable[str]) -> bool:
    """Whether the Origin header value ``origin`` matches one of ``patterns``."""
    origin = _normal(origin)
    for pattern in map(_normal, patterns):
        if pattern == "*" or pattern == origin:
            return True
        if pattern.endswith(":*"):
            base, _, port = origin.rpartition(":")
            # "scheme://host:port" splits at the port's colon, never at the scheme's.
            if base == pattern[:-2] and port.isdigit() and "//" in base:
                return True
    return False


def request_origin(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The Origin header of an ASGI scope's headers, if there is one."""
    for name, value in headers:
        if name.lower() == b"origin":
            return value.decode("latin-1")
    return None


def origin_allowed(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether an ASGI scope's headers may open a session here (WebSocket or polling)."""
    origin = request_origin(headers)
    return origin is None or origin_matches(origin, settings.ALLOWED_ORIGINS)
