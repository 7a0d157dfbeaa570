"""The Prometheus registry every app counts into, and how ``/metrics`` renders it.

Apps define their own metrics with the ``prometheus_client`` classes
(``gateway/metrics.py``, ``chat/metrics.py``, ...); this module holds what is
shared: the project-level counters (HTTP requests, Redis and database errors),
the collectors computed at scrape time that apps register (viewers per stream
read from presence), and the multi-process set-up.

Several workers (``python -m livestream.serve --workers N``) run
``prometheus_client``'s multiprocess mode: the launcher points
``PROMETHEUS_MULTIPROC_DIR`` at an empty folder before any worker imports
``prometheus_client``, each worker writes its values to memory-mapped files
there, ``/metrics`` on any worker sums them, and the launcher removes the live
gauges of a worker that died (:func:`forget_process`). One process (one worker,
or ``daphne`` run directly) uses the plain in-memory registry.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUESTS = Counter(
    "livestream_http_requests",
    "HTTP responses by route (the URL pattern, not the path) and status",
    ["route", "status"],
)
BACKEND_ERRORS = Counter(
    "livestream_backend_errors",
    "Redis and database errors logged with their exception (retries included)",
    ["backend"],
)

# Collectors whose values are read when scraped (cluster-wide facts such as
# presence), registered by apps in their AppConfig.ready().
_scrape_registry = CollectorRegistry()


def register_scrape_collector(collector: Collector) -> None:
    """Add a collector that computes its samples at scrape time (cheap, bounded labels)."""
    _scrape_registry.register(collector)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def render() -> bytes:
    """The whole exposition, this process's or (multiprocess mode) every worker's."""
    folder = multiprocess_dir()
    if folder:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_scrape_registry)


# --- the launcher's side ---------------------------------------------------------


def prepare_multiprocess_dir(folder: Path) -> None:
    """Empty ``folder`` (values of a previous run would be summed in) and create it."""
    if folder.exists():
        for stale in folder.glob("*.db"):
            stale.unlink()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def forget_process(pid: int) -> None:
    """A worker exited: drop its live gauges (its counters keep counting in the sums)."""
    folder = multiprocess_dir()
    if folder:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, folder)


def remove_multiprocess_dir(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


# --- Redis and database errors, counted where they are logged ---------------------


def _backend_of(exc: BaseException | None) -> str | None:
    from django.db import Error as DatabaseError
    from redis.exceptions import RedisError

    seen = 0
    while exc is not None and seen < 10:  # the cause chain, bounded
        if isinstance(exc, RedisError):
            return "redis"
        if isinstance(exc, DatabaseError):
            return "database"
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class BackendErrorCounter(logging.Handler):
    """Counts log records carrying a Redis or database exception.

    Every place that survives such an error logs it with its traceback (house
    style), so counting there needs no code at each call site.
    """

    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            backend = _backend_of(record.exc_info[1])
            if backend is not None:
                BACKEND_ERRORS.labels(backend).inc()
