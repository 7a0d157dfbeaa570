"""The admin's live overview: streams on air, their viewers and chat pace, and the workers.

It only puts together what the apps already answer: viewer counts from
presence (``streams``), messages of the last minute (``chat``), and the
sockets each worker reported (``gateway.workers``). The page reloads itself
every few seconds; each load costs two queries and two Redis round trips.
"""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from redis import RedisError

from chat.selectors import chat_messages_per_minute
from gateway.workers import worker_list
from streams.selectors import live_stream_viewers

REFRESH_SECONDS = 5
MAX_STREAMS = 100


def overview(request):
    rows = live_stream_viewers()
    shown = rows[:MAX_STREAMS]
    pace = chat_messages_per_minute(stream_ids=[str(stream.pk) for stream, _ in shown])
    try:
        workers, workers_error = worker_list(), None
    except RedisError:
        workers, workers_error = [], "Redis did not answer"
    context = {
        **admin.site.each_context(request),
        "title": "Live overview",
        "refresh_seconds": REFRESH_SECONDS,
        "streams": [
            {"stream": stream, "viewers": viewers, "per_minute": pace[str(stream.pk)]}
            for stream, viewers in shown
        ],
        "live_count": len(rows),
        "viewer_total": sum(viewers for _, viewers in rows),
        "workers": workers,
        "workers_error": workers_error,
        "socket_total": sum(worker["sockets"] for worker in workers),
    }
    return TemplateResponse(request, "admin/livestream_overview.html", context)
