"""One room broadcast as each transport wants it, each form built at most once.

The hub hands the same :class:`Broadcast` to every local session of a room:
a long-polling transport queues its texts, a WebSocket transport writes its
wire bytes, built on first use and then shared by every WebSocket. A broadcast
may carry several packets in order (a batch of chat messages): one Engine.IO
text frame each, their WebSocket frames back to back in one write. Sessions
that recover (gateway.recovery) are sent :attr:`Broadcast.with_offsets`, the
same packets with each one's offset as a last argument, also built once.
"""

from __future__ import annotations

from gateway import wsframe
from gateway.recovery import with_offset


class Broadcast:
    __slots__ = ("texts", "offsets", "_wire", "_with_offsets")

    def __init__(self, *texts: str, offsets: list[str] | None = None) -> None:
        self.texts = texts
        # One per text, or None each when the emitter assigned none.
        self.offsets = tuple(offsets) if offsets else (None,) * len(texts)
        self._wire: bytes | None = None
        self._with_offsets: Broadcast | None = None

    @property
    def with_offsets(self) -> Broadcast:
        """The same packets ending with their offsets (itself when it has none)."""
        if self._with_offsets is None:
            if self.offsets[0] is None:
                self._with_offsets = self
            else:
                texts = map(with_offset, self.texts, self.offsets)
                self._with_offsets = Broadcast(*texts, offsets=list(self.offsets))
                self._with_offsets._with_offsets = self._with_offsets
        return self._with_offsets

    @property
    def wire(self) -> bytes:
        """The WebSocket text frames carrying :attr:`texts`, in order."""
        if self._wire is None:
            self._wire = b"".join(map(wsframe.text_frame, self.texts))
        return self._wire
