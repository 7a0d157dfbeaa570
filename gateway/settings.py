"""The realtime limits, read once from ``settings.SOCKETIO``: the one way to read them.

The apps' limits that live in the same setting (rooms per socket, chat rates) are
read here too, so a test that overrides ``SOCKETIO`` changes every reader at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed


@dataclass(frozen=True, slots=True)
class RealtimeSettings:
    ping_interval_ms: int
    ping_timeout_ms: int
    max_payload: int
    connect_timeout_ms: int
    max_connect_frame: int
    max_pending_per_ip: int
    upgrade_timeout_ms: int
    count_coalesce_ms: int
    event_rate: int
    event_burst: int
    max_connections_per_user: int
    max_buffered_bytes: int
    recovery_window_ms: int
    recovery_max_packets: int
    max_stream_rooms: int
    chat_rate_messages: int
    chat_rate_window_ms: int
    chat_rate_burst: int
    chat_duplicate_window_ms: int


@functools.cache
def realtime_settings() -> RealtimeSettings:
    conf = settings.SOCKETIO
    return RealtimeSettings(
        ping_interval_ms=conf["PING_INTERVAL_MS"],
        ping_timeout_ms=conf["PING_TIMEOUT_MS"],
        max_payload=conf["MAX_PAYLOAD"],
        connect_timeout_ms=conf["CONNECT_TIMEOUT_MS"],
        max_connect_frame=conf["MAX_CONNECT_FRAME"],
        max_pending_per_ip=conf["MAX_PENDING_PER_IP"],
        upgrade_timeout_ms=conf["UPGRADE_TIMEOUT_MS"],
        count_coalesce_ms=conf["COUNT_COALESCE_MS"],
        event_rate=conf["EVENT_RATE"],
        event_burst=conf["EVENT_BURST"],
        max_connections_per_user=conf["MAX_CONNECTIONS_PER_USER"],
        max_buffered_bytes=conf["MAX_BUFFERED_BYTES"],
        recovery_window_ms=conf["RECOVERY_WINDOW_MS"],
        recovery_max_packets=conf["RECOVERY_MAX_PACKETS"],
        max_stream_rooms=conf["MAX_STREAM_ROOMS"],
        chat_rate_messages=conf["CHAT_RATE_MESSAGES"],
        chat_rate_window_ms=conf["CHAT_RATE_WINDOW_MS"],
        chat_rate_burst=conf["CHAT_RATE_BURST"],
        chat_duplicate_window_ms=conf["CHAT_DUPLICATE_WINDOW_MS"],
    )


def _reset(*, setting: str, **kwargs) -> None:
    if setting == "SOCKETIO":
        realtime_settings.cache_clear()


setting_changed.connect(_reset)
