"""How fast a user may chat: a rate limit and a duplicate guard, across sockets and processes.

Both live in Redis, keyed by user id, and are checked in one atomic script:

- the rate is a token bucket (GCRA: one key holding the theoretical arrival
  time), ``CHAT_RATE_MESSAGES`` per ``CHAT_RATE_WINDOW_MS`` sustained and up to
  ``CHAT_RATE_BURST`` back to back;
- the same trimmed text in the same stream within ``CHAT_DUPLICATE_WINDOW_MS``
  is refused (``SET NX PX`` on a hash of stream and text).

A refused message costs nothing: it neither spends rate nor counts as sent.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from livestream.redis_clients import LuaScript, get_async_redis, key

RATE_LIMITED = "You are sending messages too fast"
DUPLICATE = "You already sent this message"

_OK, _RATE_LIMITED, _DUPLICATE = 0, 1, 2

# KEYS: rate, duplicate. ARGV: ms per message (0: no rate limit), burst,
# duplicate window ms (0: no guard). Returns 0 (admitted), 1 (too fast), 2 (duplicate).
_ADMIT = LuaScript("""
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local interval, burst, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat
if interval > 0 then
  tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now) + interval
  if tat - now > burst * interval then return 1 end
end
if window > 0 and not redis.call('SET', KEYS[2], 1, 'NX', 'PX', window) then return 2 end
if tat then redis.call('SET', KEYS[1], tat, 'PX', math.ceil(tat - now)) end
return 0
""")


class Refused(Exception):
    """The message may not be sent now; ``reason`` says why in words for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _keys(user_id: str, stream_id: str, text: str) -> list[str]:
    digest = hashlib.sha256(f"{stream_id}\n{text}".encode()).hexdigest()[:32]
    return [key("chat-rate", user_id), key("chat-recent", user_id, digest)]


async def admit_message(*, user_id: str, stream_id: str, text: str) -> None:
    """Count a message against its author's limits; raise :class:`Refused` when over."""
    conf = settings.SOCKETIO
    messages, window = conf["CHAT_RATE_MESSAGES"], conf["CHAT_DUPLICATE_WINDOW_MS"]
    if not messages and not window:
        return
    interval = conf["CHAT_RATE_WINDOW_MS"] / messages if messages else 0
    keys = _keys(user_id, stream_id, text)
    result = await _ADMIT.on(get_async_redis(keys[0]))(
        keys=keys, args=[interval, conf["CHAT_RATE_BURST"], window]
    )
    if result == _RATE_LIMITED:
        raise Refused(RATE_LIMITED)
    if result == _DUPLICATE:
        raise Refused(DUPLICATE)


async def forget_message(*, user_id: str, stream_id: str, text: str) -> None:
    """Let the same text be sent again at once (it could not be stored)."""
    if settings.SOCKETIO["CHAT_DUPLICATE_WINDOW_MS"]:
        recent = _keys(user_id, stream_id, text)[1]
        await get_async_redis(recent).delete(recent)
