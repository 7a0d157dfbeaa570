"""The client's address: one notion of it for throttles, limits, logs and audit.

Behind a reverse proxy the TCP peer is the proxy, and the client is named in
``X-Forwarded-For``, a header any client can also write. The header is
believed only as far as it was written by proxies we trust
(``settings.TRUSTED_PROXIES``: networks such as ``127.0.0.1/32`` or
``10.0.0.0/8``): walking it from the right, starting at the TCP peer, each
trusted hop vouches for the address to its left; the first address that is not
a trusted proxy is the client. With no trusted proxies (the default) the TCP
peer is the client and the header is ignored.

Linear in the header's length: one split, one pass.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.core.signals import setting_changed

UNKNOWN = "unknown"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _trusted() -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in settings.TRUSTED_PROXIES)


def _reset(*, setting: str, **kwargs) -> None:
    if setting == "TRUSTED_PROXIES":
        _trusted.cache_clear()


setting_changed.connect(_reset)


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    address = address.strip()
    if address.startswith("[") and "]" in address:  # "[::1]:1234" or "[::1]"
        address = address[1 : address.index("]")]
    elif address.count(":") == 1:  # "1.2.3.4:5678"
        address = address.partition(":")[0]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def _is_trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None = None) -> str:
    """The client's IP address, from the TCP ``peer`` and an ``X-Forwarded-For`` value."""
    current = _parse(peer) if peer else None
    if current is None:
        return peer or UNKNOWN  # a unix socket peer without a proxy in front
    networks = _trusted()
    if not networks or not forwarded_for or not _is_trusted(current, networks):
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        parsed = _parse(hop)
        if parsed is None:
            break  # garbage from a trusted hop's client: the hop is what we know
        current = parsed
        if not _is_trusted(current, networks):
            break
    return str(current)


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    values = [value.decode("latin-1") for key, value in headers if key.lower() == name]
    return ",".join(values) if values else None


def scope_client_address(scope: dict) -> str:
    """The client address of an ASGI (HTTP or WebSocket) connection."""
    client = scope.get("client")
    peer = client[0] if client else None
    return client_address(peer, _header(scope.get("headers", ()), b"x-forwarded-for"))


def request_client_address(request) -> str:
    """The client address of a Django (or DRF) request."""
    meta = request.META
    return client_address(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"))
