"""The pages as served: no CDN, every field labelled, the vendored builds what they claim."""

from __future__ import annotations

import hashlib
import re
import urllib.request
from html.parser import HTMLParser

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

VENDOR = ROOT / "web" / "static" / "web" / "vendor"
TESTED_CLIENT = ROOT / "tests/js/node_modules/socket.io-client/dist/socket.io.min.js"
PAGES = ["/", "/login/", "/studio/", "/watch/{stream}/"]


class _Page(HTMLParser):
    """The assets a page loads and its form fields with their labels."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.fields: list[dict] = []
        self.labels: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag in ("script", "img", "video") and attributes.get("src"):
            self.assets.append(attributes["src"])
        if tag == "link" and attributes.get("href"):
            self.assets.append(attributes["href"])
        if tag == "label" and attributes.get("for"):
            self.labels.add(attributes["for"])
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.fields.append(attributes)


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


@pytest.mark.parametrize("page", PAGES)
def test_a_page_loads_only_its_own_assets_and_labels_every_field(server, make_stream, page):
    status, kind, body = fetch(server.url + page.format(stream=make_stream().pk))
    assert status == 200 and kind.startswith("text/html")
    parsed = _Page()
    parsed.feed(body.decode())
    assert parsed.assets, "no assets at all?"
    for asset in parsed.assets:
        assert asset.startswith("/static/"), f"{asset}: not served by us"
        status, _, content = fetch(server.url + asset)
        assert status == 200 and content
    for field in parsed.fields:
        assert field.get("id") in parsed.labels, f"{field} has no <label for>"


def test_the_vendored_files_are_the_ones_the_readme_lists():
    readme = (VENDOR / "README.md").read_text()
    rows = re.findall(
        r"^\| `([^`]+)` \|.*\(`([^`]+\.LICENSE)`\) \| `([0-9a-f]{64})` \|$", readme, re.MULTILINE
    )
    assert {name for name, _, _ in rows} == {p.name for p in VENDOR.glob("*.js")}
    for name, licence, digest in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
        assert (VENDOR / licence).is_file(), f"{name}: its licence is not beside it"


def test_the_page_uses_the_socket_io_client_build_the_js_tests_cover():
    if not TESTED_CLIENT.is_file():
        pytest.skip("tests/js/node_modules is not installed (npm ci in tests/js)")
    assert (VENDOR / "socket.io.min.js").read_bytes() == TESTED_CLIENT.read_bytes()
