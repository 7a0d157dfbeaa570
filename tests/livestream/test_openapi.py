"""The OpenAPI 3 document at /api/schema/: valid, complete, errors and auth documented.

Fetched from a real server; the list of routes it must cover is read from
Django's URL resolver, independently of drf-spectacular's own enumeration.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
NOT_DOCUMENTED = ("api/schema/",)  # the documents themselves


def fetch(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


@pytest.fixture
def schema(server) -> dict:
    status, kind, body = fetch(f"{server.url}/api/schema/?format=json")
    assert status == 200
    assert kind.startswith("application/vnd.oai.openapi+json")
    return json.loads(body)


def _openapi_path(route: str) -> str:
    """A Django route or router regex as an OpenAPI path: ``/api/streams/{id}/start/``."""
    route = route.replace("^", "").replace("$", "").replace("\\.", ".")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return "/" + route.replace("{pk}", "{id}")


def _routed_views(patterns=None, prefix: str = ""):
    """(path, method, view class, viewset action) of every DRF view Django routes under /api/."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routed_views(pattern.url_patterns, route)
            continue
        assert isinstance(pattern, URLPattern)
        clean = route.lstrip("^")
        if not clean.startswith("api/") or clean.startswith(NOT_DOCUMENTED):
            continue
        cls = getattr(pattern.callback, "cls", None)
        assert cls is not None and issubclass(cls, APIView), (
            f"{route} is not a DRF view: drf-spectacular cannot document it"
        )
        actions = getattr(pattern.callback, "actions", None)
        for method in HTTP_METHODS:
            if actions and method in actions:
                yield _openapi_path(route), method, cls, actions[method]
            elif not actions and hasattr(cls, method):
                yield _openapi_path(route), method, cls, None


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # drf-spectacular's bundled OpenAPI 3 JSON Schema


def test_the_schema_lists_every_api_route_and_method(schema):
    documented = {(path, method) for path, method, _ in _operations(schema)}
    routed = {(path, method) for path, method, _, _ in _routed_views()}
    assert len(routed) > 20
    assert routed - documented == set(), "routed but not documented"
    assert documented - routed == set(), "documented but not routed"


def test_every_operation_documents_its_errors(schema):
    for path, method, operation in _operations(schema):
        errors = {code for code in operation["responses"] if code.startswith("4")}
        assert errors, f"{method.upper()} {path} documents no error"
        for code in errors:
            content = operation["responses"][code].get("content", {})
            assert "application/json" in content, f"{method.upper()} {path} {code} has no body"


def _view_for(path: str, method: str):
    for route_path, route_method, cls, action in _routed_views():
        if (route_path, route_method) == (path, method):
            return cls, action
    raise AssertionError(f"no view for {method} {path}")


def test_signed_in_endpoints_require_a_bearer_token_and_document_401(schema):
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    private = 0
    for path, method, operation in _operations(schema):
        cls, action = _view_for(path, method)
        view = cls(action=action) if action else cls()
        view.request = None
        anonymous_allowed = all(isinstance(p, AllowAny) for p in view.get_permissions())
        security = operation.get("security", [])
        if anonymous_allowed:
            continue
        private += 1
        assert {"jwtAuth": []} in security, f"{method.upper()} {path}"
        assert {} not in security, f"{method.upper()} {path} claims anonymous access"
        assert "401" in operation["responses"], f"{method.upper()} {path}"
    assert private > 10


def test_the_stream_schema_names_the_owner_only_key(schema):
    stream = schema["components"]["schemas"]["Stream"]["properties"]
    assert "stream_key" in stream
    assert "streamer and moderators" in stream["stream_key"]["description"]


def test_swagger_ui_is_served_without_a_cdn(server):
    status, kind, page = fetch(f"{server.url}/api/schema/swagger-ui/")
    assert status == 200 and kind.startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, page
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by us"
    for script in scripts:
        status, kind, body = fetch(f"{server.url}{script}")
        assert status == 200 and "javascript" in kind and body
    assert "/api/schema/" in page
