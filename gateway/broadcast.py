"""One room broadcast as each transport wants it, each form built at most once.

The hub hands the same :class:`Broadcast` to every local session of a room:
a long-polling transport queues its texts, a WebSocket transport writes its
wire bytes, built on first use and then shared by every WebSocket. A broadcast
may carry several packets in order (a batch of chat messages): one Engine.IO
text frame each, their WebSocket frames back to back in one write.
"""

from __future__ import annotations

from gateway import wsframe


class Broadcast:
    __slots__ = ("texts", "_wire")

    def __init__(self, *texts: str) -> None:
        self.texts = texts
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The WebSocket text frames carrying :attr:`texts`, in order."""
        if self._wire is None:
            self._wire = b"".join(map(wsframe.text_frame, self.texts))
        return self._wire
