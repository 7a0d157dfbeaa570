"""The garbage collector set for a worker that holds thousands of connections.

CPython's default thresholds (700, 10, 10) suit short programs. A worker makes
hundreds of thousands of short-lived objects a second (frames, payloads,
futures) while it holds thousands of long-lived ones (sessions, transports,
protocol state). With the defaults, whatever is still in flight at one of the
frequent young collections is promoted, the old generation keeps growing, and
a full collection, which walks every tracked object, stopped the event loop for
150-250 ms at a time with 3,000 sockets, a large part of a big room's p99
(docs/performance.md, "The garbage collector"). With a young generation of
50,000 objects the short-lived ones die before they are looked at (a young
collection then takes 10-20 ms, rarely), and what was loaded before serving
(Django, the apps: about 140,000 objects) is frozen out of every collection.
Reference cycles are still collected; only later.
"""

from __future__ import annotations

import gc

from django.core.exceptions import ImproperlyConfigured

DEFAULT_THRESHOLDS = "50000,20,100"


def parse_thresholds(raw: str) -> tuple[int, int, int]:
    """``GC_THRESHOLDS``: three positive counts, as :func:`gc.set_threshold` takes them."""
    try:
        young, middle, old = (int(part) for part in raw.split(","))
    except ValueError:
        young = middle = old = 0
    if young < 1 or middle < 1 or old < 1:
        example = DEFAULT_THRESHOLDS
        raise ImproperlyConfigured(
            f"GC_THRESHOLDS must be three positive integers like {example!r}, got {raw!r}"
        )
    return young, middle, old


def tune_for_serving() -> None:
    """Call once the application is loaded, just before serving."""
    from django.conf import settings

    gc.collect()  # what start-up left behind, so it is not frozen with the rest
    gc.freeze()
    gc.set_threshold(*settings.GC_THRESHOLDS)
