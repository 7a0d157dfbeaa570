"""The media servers' hook endpoints: thin adapters over ``streams.ingest``.

Each adapter parses its server's documented request, calls the service and
answers the way that server understands:

- nginx-rtmp (``on_publish``, ``on_publish_done``, ``on_update``; form POST):
  2xx accepts, 3xx with ``Location: <stream id>`` renames the publish so the
  key never reaches playback paths, 4xx refuses (and drops on ``on_update``).
- SRS HTTP callbacks (``on_publish``, ``on_unpublish``; JSON): ``{"code": 0}``
  accepts, anything else refuses.
- MediaMTX external HTTP authentication (``authHTTPAddress``; JSON): 2xx
  allows, 401 refuses; ``action: unpublish`` is what its ``runOnUnpublish``
  hook posts (docs/ingest.md).

SRS and MediaMTX cannot rename a publish: the broadcaster publishes to
``live/<stream id>?key=<stream key>``, or to ``live/<stream key>`` (the key then
shows in their paths).

Not for the public: every request carries ``?secret=INGEST_HOOK_SECRET`` (the
media servers cannot add headers) and comes from ``INGEST_ALLOWED_NETWORKS``.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from livestream.client_address import request_client_address
from streams.ingest import (
    UNKNOWN_KEY,
    Encoder,
    IngestRefused,
    ingest_publish,
    ingest_publish_done,
    ingest_update,
)
from streams.ingest_sweeper import ensure_sweeper
from streams.models import Stream

logger = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@functools.cache
def _networks(configured: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(net, strict=False) for net in configured)


def _allowed(request: HttpRequest) -> bool:
    secret = settings.INGEST_HOOK_SECRET
    given = request.GET.get("secret", "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return False
    networks = _networks(tuple(settings.INGEST_ALLOWED_NETWORKS))
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(request_client_address(request))
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in networks)


def hook(view: Handler) -> Handler:
    """POST only, secret and network checked, body bounded, the sweep running."""

    @csrf_exempt
    @require_POST
    async def guarded(request: HttpRequest) -> HttpResponse:
        if not _allowed(request):
            logger.warning("ingest hook refused from %s", request_client_address(request))
            return HttpResponse("forbidden\n", status=403, content_type="text/plain")
        if len(request.body) > MAX_BODY:
            return HttpResponse("request too large\n", status=413, content_type="text/plain")
        ensure_sweeper()
        return await view(request)

    return guarded


def _stream_id_of(name: str, *, key: str | None = None) -> str:
    """The stream a publish names: its id (after a rename, or with ``?key=``) or its key."""
    try:
        return str(uuid.UUID(name))
    except ValueError:
        pass
    stream = Stream.objects.filter(stream_key=key or name).only("pk").first()
    if stream is None:
        raise UNKNOWN_KEY
    return str(stream.pk)


@sync_to_async
def _publish(name: str, key: str | None, encoder: Encoder, *, reports: bool = True) -> Stream:
    """A publish of ``name``: the key itself, or the stream id with the key as ``key``."""
    if key is None:
        return ingest_publish(key=name, encoder=encoder, reports_liveness=reports)
    try:
        stream_id = str(uuid.UUID(name))
    except ValueError:
        raise UNKNOWN_KEY from None
    return ingest_publish(key=key, encoder=encoder, stream_id=stream_id, reports_liveness=reports)


@sync_to_async
def _unpublish(name: str, key: str | None, encoder: Encoder) -> None:
    try:
        ingest_publish_done(stream_id=_stream_id_of(name, key=key), encoder=encoder)
    except IngestRefused:
        pass


def _refused(exc: IngestRefused) -> HttpResponse:
    logger.info("ingest refused: %s", exc.reason)
    return HttpResponse(f"{exc.reason}\n", status=exc.status, content_type="text/plain")


# --- nginx-rtmp ------------------------------------------------------------------


@hook
async def nginx_rtmp(request: HttpRequest) -> HttpResponse:
    form = request.POST
    call = form.get("call", "")
    name = form.get("name", "")
    encoder = Encoder.of("nginx-rtmp", f"{form.get('addr', '')}/{form.get('clientid', '')}")
    try:
        if call == "publish":
            stream = await _publish(name, None, encoder)
            # A Location without rtmp:// renames the publish in the same application.
            response = HttpResponse(status=302)
            response["Location"] = str(stream.pk)
            return response
        if call == "publish_done":
            await _unpublish(name, None, encoder)
            return HttpResponse(status=204)
        if call == "update_publish":
            if await sync_to_async(ingest_update)(
                stream_id=await sync_to_async(_stream_id_of)(name), encoder=encoder
            ):
                return HttpResponse(status=204)
            return HttpResponse("not publishing this stream\n", status=404)
        if call == "update_play":
            return HttpResponse(status=204)  # the recipe's push relay to its hls application
    except IngestRefused as exc:
        return _refused(exc)
    # Playback over RTMP is not offered (the recipe denies it too).
    return HttpResponse(f"unsupported call {call[:40]!r}\n", status=403)


# --- SRS ---------------------------------------------------------------------------


def _json(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body)
    except ValueError:
        raise IngestRefused(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise IngestRefused(400, "the body is not a JSON object")
    return body


def _text(body: dict, field: str) -> str:
    value = body.get(field, "")
    return value if isinstance(value, str) else str(value)


def _query_key(query: str) -> str | None:
    keys = parse_qs(query.lstrip("?"), max_num_fields=20).get("key")
    return keys[0] if keys else None


def _srs_answer(code: int, status: int = 200, reason: str = "") -> JsonResponse:
    return JsonResponse({"code": code, **({"msg": reason} if reason else {})}, status=status)


@hook
async def srs(request: HttpRequest) -> HttpResponse:
    try:
        body = _json(request)
        action = _text(body, "action")
        name = _text(body, "stream")
        key = _query_key(_text(body, "param"))
        encoder = Encoder.of("srs", _text(body, "client_id"))
        if action == "on_publish":
            await _publish(name, key, encoder, reports=False)
            return _srs_answer(0)
        if action == "on_unpublish":
            await _unpublish(name, key, encoder)
            return _srs_answer(0)
        raise IngestRefused(400, f"unsupported action {action[:40]!r}")
    except IngestRefused as exc:
        logger.info("ingest refused: %s", exc.reason)
        return _srs_answer(exc.status, exc.status, exc.reason)


# --- MediaMTX ------------------------------------------------------------------------


@hook
async def mediamtx(request: HttpRequest) -> HttpResponse:
    try:
        body = _json(request)
        action = _text(body, "action")
        # "live/<name>": the stream is the last segment; one publisher per path,
        # so the path names the connection.
        path = _text(body, "path")
        name = path.rpartition("/")[2]
        key = _query_key(_text(body, "query")) or _text(body, "password") or None
        encoder = Encoder.of("mediamtx", path)
        if action == "publish":
            await _publish(name, key, encoder, reports=False)
            return HttpResponse(status=204)
        if action == "unpublish":
            await _unpublish(name, key, encoder)
            return HttpResponse(status=204)
        if action in ("read", "playback"):
            return HttpResponse(status=204)  # playback is public
        return _refused(IngestRefused(401, f"action {action[:40]!r} not allowed"))
    except IngestRefused as exc:
        # MediaMTX knows only yes (2xx) or no (401).
        return _refused(IngestRefused(401, exc.reason) if exc.status != 400 else exc)
