"""What connection-state recovery's per-room log costs in memory (docs/performance.md).

Feeds ``--messages`` chat broadcasts, shaped like S5's (``new_message`` with a
``--length``-character text, ids, username, timestamp, stream id), through the
hub's logging path into one room's ``RoomLog`` and reports the bytes held per
entry and for the whole log (tracemalloc: the frames themselves included, since the
log is what keeps them alive after the broadcast), with the log's trimming on
(``SOCKETIO_RECOVERY_MAX_PACKETS``). Deterministic: no server, no network::

    .venv/bin/python bench/recovery_memory.py --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livestream.settings")
os.environ.setdefault("DEBUG", "1")


def frames(count: int, length: int) -> list[str]:
    from gateway import codec

    stream_id = str(uuid.uuid4())
    return [
        codec.encode_event(
            "new_message",
            {
                "id": str(1_000_000 + n),
                "userId": str(100 + n % 10),
                "username": f"bench-{n % 10:05d}",
                "message": ("x" * length)[:length],
                "timestamp": "2026-12-01T04:00:00.000Z",
                "streamId": stream_id,
            },
        )
        for n in range(count)
    ]


async def measure(count: int, length: int) -> dict:
    from gateway import recovery
    from gateway.hub import Hub
    from gateway.settings import realtime_settings

    hub = Hub()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    texts = frames(count, length)
    offsets = recovery.new_offsets(count)
    for text, offset in zip(texts, offsets, strict=True):
        hub._log("room", _Broadcast(text, offset), None)
    del texts, offsets
    after = tracemalloc.take_snapshot()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    log = hub.logs["room"]
    return {
        "messages": count,
        "text_length": length,
        "frame_bytes": len(frames(1, length)[0]),
        "max_packets": realtime_settings().recovery_max_packets,
        "entries_kept": len(log.entries),
        "bytes_held": held,
        "bytes_per_entry": round(held / len(log.entries)),
    }


class _Broadcast:
    """What ``Hub._log`` reads of a broadcast."""

    def __init__(self, text: str, offset: str) -> None:
        self.texts = (text,)
        self.offsets = (offset,)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--length", type=int, default=40, help="characters per chat text")
    args = parser.parse_args()
    import django

    django.setup()
    print(json.dumps(asyncio.run(measure(args.messages, args.length)), indent=2))


if __name__ == "__main__":
    main()
