"""A cap on sockets that have not authenticated yet, per client address.

An unauthenticated socket costs the server memory and a connect timer while
it proves nothing; ``max_pending_per_ip`` of them per client address (the
real one behind trusted proxies, :mod:`livestream.client_address`) are let in
at a time. The count is per process: with N workers an address can hold up to
N × the cap, which still bounds what one address costs each worker.
"""

from __future__ import annotations

from collections import Counter

from gateway.settings import realtime_settings

_pending: Counter[str] = Counter()


class PendingSlot:
    """One unauthenticated socket's place in its address's count; released once."""

    __slots__ = ("address",)

    def __init__(self, address: str) -> None:
        self.address: str | None = address

    def release(self) -> None:
        address, self.address = self.address, None
        if address is None:
            return
        _pending[address] -= 1
        if _pending[address] <= 0:
            del _pending[address]


def pending_acquire(address: str) -> PendingSlot | None:
    """A slot for one more unauthenticated socket from ``address``; None over the cap."""
    cap = realtime_settings().max_pending_per_ip
    if cap and _pending[address] >= cap:
        return None
    _pending[address] += 1
    return PendingSlot(address)
