"""The per-message moderation check: part of chat's one admission script, no database query.

Each stream's moderation state (owner and channel moderators, slow mode,
active bans and timeouts) is copied into one Redis hash, filled from the
database on first use and dropped by :func:`stream_changed` after every change
committed on any worker; a version counter beside it keeps a fill that read
the database before a change from writing its stale copy after it.

Blocked terms are matched in process with a compiled :class:`terms.Matcher`
per stream, cached until the terms' version in Redis moves. The version the
cached matcher was built for travels in the same script call, so a stale
matcher is noticed in the same round trip that checks bans and slow mode.

The check is a :class:`chat.admission.Check`: its Lua fragment runs inside the
script chat composes with its own rate limit, so a message costs one Redis
round trip for both; the slow-mode interval is spent only once every check of
that script has passed.
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.db.models import Q
from django.utils import timezone

from chat.admission import Check, Draft, run
from chat.limits import Refused
from livestream.redis_clients import (
    LuaScript,
    by_shard,
    get_async_redis,
    get_redis,
    key,
    local_key,
    shard_clients,
)
from moderation.terms import Matcher

BANNED = "You are banned from this chat"
BLOCKED_TERM = "Your message contains a blocked term"
BUSY = "Moderation settings are changing, please try again"
STATE_TTL_SECONDS = 24 * 3600
MATCHER_CACHE_SIZE = 1024


def timed_out(seconds: int) -> str:
    return f"You are timed out for {seconds} more seconds"


def slow_mode(seconds: int) -> str:
    return f"Slow mode: wait {seconds} seconds"


_BANNED, _TIMED_OUT, _SLOW, _BLOCKED, _NOT_LOADED, _STALE_TERMS = 1, 2, 3, 4, -1, -2

# KEYS: state hash, this user's slow-mode key, terms version.
# ARGV: user id, site moderator (1/0), terms version of the matcher, matched a term (1/0).
_CHECK_LUA = """
local tv = redis.call('GET', KEYS[3]) or '0'
if tv ~= ARGV[3] then return {-2, tv} end
local s = redis.call('HMGET', KEYS[1], 'loaded', 'slow', 'exempt:' .. ARGV[1], 'ban:' .. ARGV[1])
if not s[1] then return {-1, 0} end
if s[4] then
  if s[4] == '0' then return {1, 0} end
  local t = redis.call('TIME')
  local left = tonumber(s[4]) - (t[1] * 1000 + math.floor(t[2] / 1000))
  if left > 0 then return {2, left} end
end
if ARGV[4] == '1' then return {4, 0} end
local slow = tonumber(s[2]) or 0
if slow > 0 and ARGV[2] ~= '1' and not s[3] then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {3, redis.call('PTTL', KEYS[2])} end
  return nil, function() redis.call('SET', KEYS[2], 1, 'PX', slow * 1000) end
end
"""

# KEYS: state hash, its version. ARGV: the version read before the database, ttl, fields...
_FILL = LuaScript("""
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
""")


def _state_keys(stream_id: str) -> tuple[str, str]:
    return key("mod", stream_id), key("mod", stream_id, "v")


def _slow_key(stream_id: str, user_id: str) -> str:
    return key("mod", stream_id, "slow", user_id)


# A copy on every shard (the per-stream script reads the one beside its stream),
# set to one new token on each change so that all copies agree.
_TERMS_VERSION = ("mod", "terms", "v")


def stream_changed(stream_ids) -> None:
    """Drop the Redis copy of these streams' state (call after commit); refilled on next use."""
    for group in by_shard([str(s) for s in stream_ids], lambda s: _state_keys(s)[0]).values():
        with get_redis(_state_keys(group[0])[0]).pipeline() as pipe:
            for stream_id in group:
                state, version = _state_keys(stream_id)
                pipe.incr(version)
                pipe.delete(state)
            pipe.execute()


def terms_changed() -> None:
    """Every process rebuilds its blocked-term matchers on its next message (after commit)."""
    token = uuid.uuid4().hex
    for client in shard_clients(asynchronous=False):
        client.set(local_key(*_TERMS_VERSION), token)


def _state_fields(stream_id: str) -> list[str] | None:
    from moderation.models import ChannelModerator, ChatBan, SlowMode
    from streams.models import Stream

    owner = Stream.objects.filter(pk=stream_id).values_list("streamer_id", flat=True).first()
    if owner is None:
        return None
    fields = ["loaded", "1", f"exempt:{owner}", "1"]
    seconds = SlowMode.objects.filter(stream_id=stream_id).values_list("seconds", flat=True)
    fields += ["slow", str(seconds.first() or 0)]
    for user_id in ChannelModerator.objects.filter(owner_id=owner).values_list(
        "user_id", flat=True
    ):
        fields += [f"exempt:{user_id}", "1"]
    active = ChatBan.objects.filter(stream_id=stream_id).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    for user_id, expires_at in active.values_list("user_id", "expires_at"):
        until = 0 if expires_at is None else math.ceil(expires_at.timestamp() * 1000)
        fields += [f"ban:{user_id}", str(until)]
    return fields


def _terms_of(stream_id: str) -> Matcher:
    from moderation.models import BlockedTerm

    rows = BlockedTerm.objects.filter(Q(stream__isnull=True) | Q(stream_id=stream_id))
    return Matcher(rows.values_list("term", flat=True))


_load_state = database_sync_to_async(_state_fields)
_load_terms = database_sync_to_async(_terms_of)


class _Matchers:
    """Compiled matchers per stream, valid for one terms version (least recently used kept)."""

    def __init__(self) -> None:
        self.version = ""
        self._by_stream: OrderedDict[str, Matcher] = OrderedDict()

    async def get(self, stream_id: str) -> Matcher:
        matcher = self._by_stream.get(stream_id)
        if matcher is None:
            version = self.version
            matcher = await _load_terms(stream_id)
            if version != self.version:
                return matcher  # built for an older version: use once, never cache
            self._by_stream[stream_id] = matcher
            if len(self._by_stream) > MATCHER_CACHE_SIZE:
                self._by_stream.popitem(last=False)
        else:
            self._by_stream.move_to_end(stream_id)
        return matcher

    def reset(self, version: str) -> None:
        self.version = version
        self._by_stream.clear()


_matchers = _Matchers()


def chat_check(site_moderator: Callable[[Draft], Awaitable[bool]]) -> Check:
    """The check for chat's admission script; ``site_moderator(draft)`` tells who is exempt."""

    async def prepare(draft: Draft) -> tuple[list[str], list[object]]:
        stream_id, user_id = draft.stream_id, draft.user_id
        terms_version = _matchers.version
        # Until the script has told this process the version, there is no matcher to trust.
        blocked = bool(terms_version) and (await _matchers.get(stream_id)).matches(draft.text)
        keys = [
            _state_keys(stream_id)[0],
            _slow_key(stream_id, user_id),
            local_key(*_TERMS_VERSION),
        ]
        args = [user_id, int(await site_moderator(draft)), terms_version, int(blocked)]
        return keys, args

    async def refused(draft: Draft, code: int, value: object, last: bool) -> None:
        if code == _STALE_TERMS:
            if _matchers.version != str(value):  # another message may have reset it already
                _matchers.reset(str(value))
        elif code == _NOT_LOADED:
            await _fill(get_async_redis(_state_keys(draft.stream_id)[0]), draft.stream_id)
        else:
            raise Refused(_reason(code, int(value)))
        if last:
            raise Refused(BUSY)

    async def forget(draft: Draft) -> None:
        """Give back the slow-mode interval of a message that was admitted but not stored."""
        slow = _slow_key(draft.stream_id, draft.user_id)
        await get_async_redis(slow).delete(slow)

    return Check(_CHECK_LUA, 3, 4, prepare, refused, forget)


async def admit(*, user_id: str, stream_id: str, text: str, site_moderator: bool) -> None:
    """Raise :class:`Refused` if ``user_id`` may not post ``text`` in ``stream_id`` now.

    The moderation check alone (chat runs it with its own limits); a message that
    passes spends the user's slow-mode interval.
    """

    async def fixed(draft: Draft) -> bool:
        return site_moderator

    await run([chat_check(fixed)], Draft(user_id, stream_id, text))


def _reason(code: int, millis: int) -> str:
    if code == _BANNED:
        return BANNED
    if code == _TIMED_OUT:
        return timed_out(max(1, math.ceil(millis / 1000)))
    if code == _SLOW:
        return slow_mode(max(1, math.ceil(millis / 1000)))
    return BLOCKED_TERM


async def _fill(client, stream_id: str) -> None:
    state, version_key = _state_keys(stream_id)
    version = await client.get(version_key) or "0"
    fields = await _load_state(stream_id)
    if fields is None:
        fields = ["loaded", "1"]  # no such stream: nothing to enforce
    await _FILL.on(client)(keys=[state, version_key], args=[version, STATE_TTL_SECONDS, *fields])
