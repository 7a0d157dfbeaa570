"""The checks a chat message passes before it is stored, in one Redis round trip.

Other apps (moderation: bans, slow mode, blocked terms) register a :class:`Check`;
chat adds its own rate limit and duplicate guard last. Each check brings a Lua
fragment, the body of ``function(KEYS, ARGV)`` that sees only its own keys and
arguments, and either refuses (``return {code, value}``) or passes (``return``,
optionally with a second value: a function that spends what the message costs,
e.g. a slow-mode interval). The fragments are composed, in order, into one
script, built once per list of checks and registered once per Redis client.
Spending runs only once every check has passed, so a refusal costs nothing and
nothing has to be given back.

The script calls of messages that arrive in the same loop turn share that
round trip: they are queued per Redis client and sent as one pipeline of
EVALSHAs (no MULTI: each script stays its own atomic step), each message
getting its own result, exactly what its call alone would have returned. When
no pipeline is out a call is sent at once by its caller; the calls that arrive
while one is out wait for it and go together in the next, as the chat
writer's batches do. A socket's events are handled one at a time, so a sender
has at most one message here and its order is kept.

Chat knows nothing of what a check means: a refusal goes back to the check that
made it, which raises :class:`chat.limits.Refused` with its own words, or asks
for another try after repairing what it found missing (a state cache to fill).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from gateway.session import Session
from livestream.redis_clients import LuaScript, common_tag, get_async_redis

ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Draft:
    """A chat message not stored yet, as every check sees it."""

    user_id: str
    stream_id: str
    text: str
    session: Session | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One rule inside the admission script.

    ``prepare(draft)`` gives this message's ``n_keys`` keys and ``n_args`` arguments;
    ``refused(draft, code, value, last)`` raises ``Refused`` (it must when ``last``) or
    returns to have the whole script run again; ``forget(draft)`` gives back what an
    admitted message spent when it could not be stored.
    """

    lua: str
    n_keys: int
    n_args: int
    prepare: Callable[[Draft], Awaitable[tuple[Sequence[Any], Sequence[Any]]]]
    refused: Callable[[Draft, int, Any, bool], Awaitable[None]]
    forget: Callable[[Draft], Awaitable[None]] | None = None


_checks: list[Check] = []
_scripts: dict[tuple, LuaScript] = {}


def register(check: Check) -> None:
    """Run ``check`` before every message is stored, after those registered before it."""
    _checks.append(check)


def compose(checks: Sequence[Check]) -> str:
    """Lua running ``checks`` in order; returns {index, code, value}, index 0 = admitted."""
    bodies = ",\n".join(f"function(KEYS, ARGV)\n{check.lua}\nend" for check in checks)
    sizes = ", ".join(f"{{{check.n_keys}, {check.n_args}}}" for check in checks)
    return f"""
local function slice(t, from, n)
  local out = {{}}
  for i = 1, n do out[i] = t[from + i] end
  return out
end
local checks = {{
{bodies}
}}
local sizes = {{{sizes}}}
local spends, k, a = {{}}, 0, 0
for i, check in ipairs(checks) do
  local refusal, spend = check(slice(KEYS, k, sizes[i][1]), slice(ARGV, a, sizes[i][2]))
  if refusal then return {{i, refusal[1], refusal[2]}} end
  if spend then spends[#spends + 1] = spend end
  k, a = k + sizes[i][1], a + sizes[i][2]
end
for _, spend in ipairs(spends) do spend() end
return {{0, 0, 0}}
"""


def _script(checks: Sequence[Check]) -> LuaScript:
    signature = tuple((check.lua, check.n_keys, check.n_args) for check in checks)
    script = _scripts.get(signature)
    if script is None:
        script = _scripts[signature] = LuaScript(compose(checks))
    return script


class _Calls:
    """Script calls for one Redis client, a pipeline out at a time (module docstring)."""

    __slots__ = ("__weakref__", "_client", "_draining", "_out", "_queue")

    def __init__(self, client) -> None:
        self._client = client
        self._queue: list[tuple[LuaScript, list[Any], int, asyncio.Future]] = []
        self._out = False
        self._draining: asyncio.Task | None = None  # held: the loop keeps only weak references

    async def call(self, script: LuaScript, keys: list[Any], args: list[Any]) -> Any:
        """What ``script`` returns for ``keys`` and ``args``."""
        common_tag(keys)  # a script never spans shards
        future = asyncio.get_running_loop().create_future()
        entry = (script, [*keys, *args], len(keys), future)
        if self._out:
            self._queue.append(entry)  # a pipeline is out: this call goes in the next one
            return await future
        # Nothing out: sent at once by its own caller, as a lone call would be (a lone
        # sender pays no extra loop turn); what arrives meanwhile waits for it.
        self._out = True
        try:
            await self._round([entry], load=True)
        finally:
            self._next()
        return await future

    def _next(self) -> None:
        """The pipeline out has ended: a task sends what queued meanwhile, or none is out."""
        if self._queue:
            self._draining = asyncio.ensure_future(self._drain())
        else:
            self._out = False

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._round(batch, load=True)
        except BaseException:
            _fail(self._queue, None)  # cancelled (the loop is closing)
            self._queue = []
            raise
        finally:
            self._out = False

    async def _round(self, batch: list, *, load: bool) -> None:
        try:
            if len(batch) == 1:
                # A lone call as a plain command: redis-py's pipeline hands its connection
                # back through a task, a loop turn more before the caller resumes.
                script, argv, n_keys, _ = batch[0]
                try:
                    command = ("EVALSHA", script.sha, n_keys, *argv)
                    results = [await self._client.execute_command(*command)]
                except ResponseError as exc:
                    results = [exc]
            else:
                pipe = self._client.pipeline(transaction=False)
                for script, argv, n_keys, _ in batch:
                    pipe.execute_command("EVALSHA", script.sha, n_keys, *argv)
                results = await pipe.execute(raise_on_error=False)
            missing = []
            for entry, result in zip(batch, results, strict=True):
                future = entry[3]
                if load and isinstance(result, NoScriptError):
                    missing.append(entry)  # a restarted or flushed Redis: load, send again
                elif future.done():
                    continue  # its handler is gone (the socket closed)
                elif isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            if missing:
                for script in {entry[0] for entry in missing}:
                    await self._client.script_load(script.source)
                await self._round(missing, load=False)
        except Exception as exc:
            _fail(batch, exc)  # each call fails as it would alone (the pipeline could not run)
        except BaseException:
            _fail(batch, None)
            raise


def _fail(batch: list, exc: Exception | None) -> None:
    """Fail every call of ``batch`` not answered yet with ``exc`` (None: cancel it)."""
    for *_, future in batch:
        if not future.done():
            if exc is None:
                future.cancel()
            else:
                future.set_exception(exc)


_by_client: weakref.WeakKeyDictionary[Any, _Calls] = weakref.WeakKeyDictionary()


def _calls(client) -> _Calls:
    calls = _by_client.get(client)
    if calls is None:
        calls = _by_client[client] = _Calls(client)
    return calls


async def run(checks: Sequence[Check], draft: Draft) -> None:
    """Admit ``draft`` through ``checks`` (one script call, retried when a check asks)."""
    script = _script(checks)
    for attempt in range(ATTEMPTS):
        keys: list[Any] = []
        args: list[Any] = []
        for check in checks:
            check_keys, check_args = await check.prepare(draft)
            keys += check_keys
            args += check_args
        index, code, value = await _calls(get_async_redis(keys[0])).call(script, keys, args)
        if not index:
            return
        await checks[index - 1].refused(draft, code, value, attempt == ATTEMPTS - 1)
    raise RuntimeError("an admission check asked for another try after its last attempt")


async def admit_message(draft: Draft, *own: Check) -> None:
    """The registered checks, then chat's ``own``, in one round trip."""
    await run((*_checks, *own), draft)


async def forget_message(draft: Draft, *own: Check) -> None:
    """Give back what an admitted message spent (it could not be stored)."""
    for check in (*_checks, *own):
        if check.forget is not None:
            await check.forget(draft)
