"""The parts of the metrics that need no server: error counting and bounded labels."""

from __future__ import annotations

import logging

from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.metrics import message_label
from livestream.metrics import BACKEND_ERRORS


def errors(backend: str) -> float:
    return BACKEND_ERRORS.labels(backend)._value.get()


def log_failure(exc: BaseException) -> None:
    """Log as the code does; the root logger's handler (settings.LOGGING) counts."""
    try:
        raise RuntimeError("while storing") from exc
    except RuntimeError:
        logging.getLogger("tests.metrics").warning("storing failed", exc_info=True)


def test_redis_and_database_errors_are_counted_where_they_are_logged():
    redis_before, database_before = errors("redis"), errors("database")
    log_failure(RedisConnectionError("Connection refused"))  # found through the cause
    log_failure(OperationalError("database is locked"))
    log_failure(ValueError("not a backend"))
    assert errors("redis") == redis_before + 1
    assert errors("database") == database_before + 1


def test_error_messages_become_templates():
    assert message_label("You are timed out for 37 more seconds") == (
        "You are timed out for N more seconds"
    )
    assert len(message_label("x" * 10_000)) == 80
