"""Checks other apps add before a chat message is stored (moderation: bans, slow mode, terms).

Chat knows only that a check may refuse a message with :class:`chat.limits.Refused`
and may need to give back what an admitted message spent when it could not be
stored. Checks run in registration order, after chat's own validation and
before its rate limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.session import Session

Admit = Callable[[Session, str, str], Awaitable[None]]
Forget = Callable[[Session, str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Check:
    admit: Admit
    forget: Forget | None = None


_checks: list[Check] = []


def register(admit: Admit, *, forget: Forget | None = None) -> None:
    """Run ``admit(session, stream_id, text)`` before every message is stored."""
    _checks.append(Check(admit, forget))


async def admit_message(session: Session, stream_id: str, text: str) -> None:
    for check in _checks:
        await check.admit(session, stream_id, text)


async def forget_message(session: Session, stream_id: str, text: str) -> None:
    for check in _checks:
        if check.forget is not None:
            await check.forget(session, stream_id, text)
