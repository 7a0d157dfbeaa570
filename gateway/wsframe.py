"""WebSocket text frames built once, for writing to many sockets (RFC 6455 §5.2).

A server frame is unmasked: FIN + opcode 1, the payload length (7 bits, or
126 + 16 bits, or 127 + 64 bits), then the UTF-8 payload. Building it once
per broadcast lets every local socket get the same bytes.
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81
_FIN_CLOSE = 0x88


def text_frame(payload: str) -> bytes:
    data = payload.encode()
    size = len(data)
    if size < 126:
        header = struct.pack("!BB", _FIN_TEXT, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", _FIN_TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, size)
    return header + data


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame (opcode 8) with ``code`` and a short ``reason`` (under 124 bytes)."""
    payload = struct.pack("!H", code) + reason.encode()[:123]
    return struct.pack("!BB", _FIN_CLOSE, len(payload)) + payload
