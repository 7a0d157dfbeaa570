"""The pages: each is a template plus the settings its script needs; data comes from the APIs.

No page reads the database: the scripts call the REST API and the socket like
any other client, so the pages show exactly what the public contracts offer.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _page(request: HttpRequest, template: str, script: str, **config) -> HttpResponse:
    config = {"rtmpUrl": settings.RTMP_INGEST_URL, **config}
    context = {"config": config, "script": f"web/js/pages/{script}.js"}
    return render(request, f"web/{template}.html", context)


def streams(request: HttpRequest) -> HttpResponse:
    """The live streams, with their viewer counts."""
    return _page(request, "streams", "streams")


def login(request: HttpRequest) -> HttpResponse:
    """Log in or register; the tokens stay in this tab (sessionStorage)."""
    return _page(request, "login", "login")


def watch(request: HttpRequest, stream_id) -> HttpResponse:
    """One stream: video (or a placeholder), live chat, viewer count, notifications."""
    return _page(request, "watch", "watch", streamId=str(stream_id))


def studio(request: HttpRequest) -> HttpResponse:
    """The streamer's page: create a stream, its RTMP URL and key, start and end it."""
    return _page(request, "studio", "studio")
