"""How fast a user may chat: a rate limit and a duplicate guard, across sockets and processes.

Both live in Redis, keyed by user id, and are checked in the one admission
script (:mod:`chat.admission`), after every other app's checks:

- the rate is a token bucket (GCRA: one key holding the theoretical arrival
  time), ``CHAT_RATE_MESSAGES`` per ``CHAT_RATE_WINDOW_MS`` sustained and up to
  ``CHAT_RATE_BURST`` back to back;
- the same trimmed text in the same stream within ``CHAT_DUPLICATE_WINDOW_MS``
  is refused (a key per hash of stream and text, expiring after the window).

A refused message costs nothing: it neither spends rate nor counts as sent.
"""

from __future__ import annotations

import hashlib

from chat.admission import Check, Draft
from gateway.settings import realtime_settings
from livestream.redis_clients import get_async_redis, key

RATE_LIMITED = "You are sending messages too fast"
DUPLICATE = "You already sent this message"

_RATE_LIMITED, _DUPLICATE = 1, 2

# KEYS: rate, duplicate. ARGV: ms per message (0: no rate limit), burst,
# duplicate window ms (0: no guard). Refuses {1} (too fast) or {2} (duplicate).
_LUA = """
local interval, burst, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now, tat
if interval > 0 then
  local t = redis.call('TIME')
  now = t[1] * 1000 + t[2] / 1000
  tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now) + interval
  if tat - now > burst * interval then return {1, 0} end
end
if window > 0 and redis.call('EXISTS', KEYS[2]) == 1 then return {2, 0} end
return nil, function()
  if window > 0 then redis.call('SET', KEYS[2], 1, 'PX', window) end
  if tat then redis.call('SET', KEYS[1], tat, 'PX', math.ceil(tat - now)) end
end
"""


class Refused(Exception):
    """The message may not be sent now; ``reason`` says why in words for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _keys(user_id: str, stream_id: str, text: str) -> list[str]:
    digest = hashlib.sha256(f"{stream_id}\n{text}".encode()).hexdigest()[:32]
    # Tagged by stream, as moderation's keys are: chat's admission script runs them
    # together on the stream's shard, so the rate is per user in each stream.
    return [key("chat-rate", stream_id, user_id), key("chat-recent", stream_id, user_id, digest)]


async def _prepare(draft: Draft) -> tuple[list[str], list[float]]:
    conf = realtime_settings()
    messages = conf.chat_rate_messages
    interval = conf.chat_rate_window_ms / messages if messages else 0
    args = [interval, conf.chat_rate_burst, conf.chat_duplicate_window_ms]
    return _keys(draft.user_id, draft.stream_id, draft.text), args


async def _refused(draft: Draft, code: int, value: object, last: bool) -> None:
    raise Refused(RATE_LIMITED if code == _RATE_LIMITED else DUPLICATE)


async def _forget(draft: Draft) -> None:
    """Let the same text be sent again at once (it could not be stored)."""
    if realtime_settings().chat_duplicate_window_ms:
        recent = _keys(draft.user_id, draft.stream_id, draft.text)[1]
        await get_async_redis(recent).delete(recent)


CHECK = Check(_LUA, 2, 3, _prepare, _refused, _forget)
