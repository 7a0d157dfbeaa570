"""Liveness and readiness, as a load balancer asks for them every second.

``/healthz`` says the process answers (its event loop runs) and touches
nothing else. ``/readyz`` asks the database (``SELECT 1``) and Redis
(``PING``) at the same time, each within ``READINESS_TIMEOUT_MS``, and names
the parts that failed; one query and one round trip per call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from livestream.redis_clients import shard_clients

OK = "ok"


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, str]  # part -> "ok" or what went wrong (never a secret)

    @property
    def failing(self) -> list[str]:
        return [part for part, result in self.checks.items() if result != OK]

    @property
    def ready(self) -> bool:
        return not self.failing

    def as_json(self) -> dict:
        status = "ready" if self.ready else "unavailable"
        return {"status": status, "failing": self.failing, "checks": self.checks}


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _ping_redis() -> None:
    # Every shard: a message, a join or a limit may need any of them.
    await asyncio.gather(*(client.ping() for client in shard_clients(asynchronous=True)))


async def _check(probe, timeout: float) -> str:
    try:
        await asyncio.wait_for(probe, timeout)
    except TimeoutError:
        return f"no answer within {round(timeout * 1000)} ms"
    except Exception as exc:
        # The exception's type only: messages may carry hosts or credentials.
        return f"error: {type(exc).__name__}"
    return OK


async def readiness() -> Readiness:
    """Whether the database and Redis answer now, each within the timeout."""
    timeout = settings.READINESS_TIMEOUT_MS / 1000
    # Not the thread that serves Django's sync code: a hung database must not
    # make the check wait behind requests, nor requests behind it.
    database = database_sync_to_async(_ping_database, thread_sensitive=False)()
    results = await asyncio.gather(_check(database, timeout), _check(_ping_redis(), timeout))
    return Readiness(dict(zip(("database", "redis"), results, strict=True)))
