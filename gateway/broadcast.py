"""One room broadcast as each transport wants it, each form built at most once.

The hub hands the same :class:`Broadcast` to every local session of a room:
a long-polling transport queues its text, a WebSocket transport writes its
wire frame, which is built on first use and then shared by every WebSocket.
"""

from __future__ import annotations

from gateway import wsframe


class Broadcast:
    __slots__ = ("text", "_wire")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The WebSocket text frame carrying :attr:`text`."""
        if self._wire is None:
            self._wire = wsframe.text_frame(self.text)
        return self._wire
