"""HTTP requests by route and status (``livestream_http_requests_total``).

The ASGI middleware counts every HTTP response, whoever answered it; the route
label is a fixed name for the Socket.IO and operator endpoints, and for Django
the name of the URL pattern that matched (``stream-start``), written into
the ASGI scope by :class:`RouteLabelMiddleware`: never the path itself, which
clients choose.
"""

from __future__ import annotations

from django.utils.deprecation import MiddlewareMixin

from livestream.metrics import HTTP_REQUESTS

SCOPE_KEY = "livestream.route"
UNMATCHED = "(unmatched)"


def count_requests(app, *, fixed_routes: dict[str, str]):
    """Wrap an ASGI HTTP app; ``fixed_routes`` maps exact paths to their route label."""

    async def application(scope, receive, send) -> None:
        async def counted_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                route = fixed_routes.get(scope.get("path")) or scope.get(SCOPE_KEY, UNMATCHED)
                HTTP_REQUESTS.labels(route, str(message["status"])).inc()
            await send(message)

        await app(scope, receive, counted_send)

    return application


class RouteLabelMiddleware(MiddlewareMixin):
    """Django middleware (sync and async): names the matched URL pattern in the ASGI scope."""

    def process_view(self, request, view_func, view_args, view_kwargs) -> None:
        scope = getattr(request, "scope", None)
        match = request.resolver_match
        if scope is not None and match is not None:
            # The view's name ("stream-list", "admin:index"): DRF's routes are regexes.
            scope[SCOPE_KEY] = match.view_name or match.route or UNMATCHED
