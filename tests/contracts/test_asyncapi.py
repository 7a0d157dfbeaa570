"""docs/asyncapi.yaml against the code and against what real clients saw.

- the document is valid AsyncAPI 3 (the official JSON Schema, npm ``@asyncapi/specs``);
- the client events it lists are exactly those registered with ``gateway.events.on``;
- the server events it lists are exactly those the code emits (``tests/contracts/emitted.py``);
- every payload the suite's python-socketio clients received, and every acked event they
  sent, validates against its schema. ``tests/sio.py`` records them during the session; the
  last test (run after all others, see ``tests/conftest.py``) plays a scenario of its own
  first, so it checks something when run alone too.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from gateway import events
from notifications.services import notify
from tests.contracts.emitted import emitted_events
from tests.sio import RECORDED, SERVER_DISCONNECT, Client
from tests.support import ROOT

DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
SPEC = ROOT / "tests/js/node_modules/@asyncapi/specs/schemas/3.0.0-without-$id.json"
BASE = "urn:livestream:asyncapi"
# Socket.IO packets, not events: no handler registers them.
HANDSHAKE = {"connect", "disconnect", "connect_error"}
# The dispatcher sends the error events the apps registered (found through `on` calls).
RELAYED = {"gateway.events"}
# Server events the scenario below cannot cause without a media server.
NOT_PLAYED = {"stream_status", "notification_room_join_error"}


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


def _event_names(document: dict, action: str) -> set[str]:
    names = set()
    for operation in document["operations"].values():
        if operation["action"] == action:
            names |= {_message(document, ref)["name"] for ref in operation["messages"]}
    return names


def _message(document: dict, ref: dict) -> dict:
    node: dict = document
    for part in ref["$ref"].removeprefix(BASE).lstrip("#/").split("/"):
        node = node[part]
    return _message(document, node) if "$ref" in node else node


def test_the_document_is_valid_asyncapi_3(document):
    if not SPEC.is_file():
        pytest.skip("tests/js/node_modules is not installed (npm ci in tests/js)")
    spec = json.loads(SPEC.read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in jsonschema.Draft7Validator(spec).iter_errors(document)
    ]
    assert errors == []


def test_client_events_are_exactly_the_registered_ones(document):
    documented = _event_names(document, "receive") - HANDSHAKE
    registered = set(events.registered())
    assert registered - documented == set(), "registered but not documented"
    assert documented - registered == set(), "documented but not registered"


def test_server_events_are_exactly_the_ones_the_code_emits(document):
    found = emitted_events(ROOT)
    unresolved = [u for u in found.unresolved if u.split(":")[0] not in RELAYED]
    assert unresolved == [], "event names the contract check cannot read"
    documented = _event_names(document, "send") - HANDSHAKE
    emitted = set(found.names)
    assert emitted - documented == set(), "emitted but not documented"
    assert documented - emitted == set(), "documented but never emitted"
    # Every registered error event is among them.
    assert {e for e in events.registered().values() if e} <= documented


class Contract:
    """The document's payload schemas by event name, ``$ref``s resolvable."""

    def __init__(self, document: dict) -> None:
        document = _absolute_refs(document)
        resource = Resource.from_contents(document, default_specification=DRAFT7)
        self.registry = Registry().with_resource(BASE, resource)
        self.received: dict[str, list[dict]] = {}  # server event -> payload schemas
        self.sent: dict[str, tuple[dict, list[dict]]] = {}  # client event -> (payload, acks)
        for operation in document["operations"].values():
            messages = [_message(document, ref) for ref in operation["messages"]]
            replies = [
                _message(document, r) for r in operation.get("reply", {}).get("messages", ())
            ]
            if operation["action"] == "send":
                for message in messages:
                    self.received.setdefault(message["name"], []).append(message["payload"])
                continue
            for message in messages:
                self.sent[message["name"]] = (message["payload"], [r["payload"] for r in replies])
            for reply in replies:  # CONNECT's refusal reaches the client as connect_error
                if reply.get("name") == "connect_error":
                    self.received.setdefault("connect_error", []).append(reply["payload"])
        self.error_ack = document["components"]["messages"]["error_ack"]["payload"]

    def errors(self, schemas: list[dict], payload) -> list[str]:
        """Why ``payload`` matches none of ``schemas`` (empty when one matches)."""
        found = []
        for schema in schemas:
            validator = jsonschema.Draft7Validator(schema, registry=self.registry)
            problems = [error.message for error in validator.iter_errors(payload)]
            if not problems:
                return []
            found += problems
        return found or ["no schema"]


def _absolute_refs(node):
    """Local ``#/...`` refs made absolute, so that the registry resolves them anywhere."""
    if isinstance(node, dict):
        return {
            key: BASE + value if key == "$ref" and value.startswith("#") else _absolute_refs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(value) for value in node]
    return node


def _violations(document: dict) -> list[str]:
    contract = Contract(document)
    problems = []
    for event, payloads in RECORDED.received.items():
        schemas = contract.received.get(event)
        if schemas is None:
            problems.append(f"received undocumented event {event!r}")
            continue
        for payload in payloads.values():
            for error in contract.errors(schemas, payload)[:1]:
                problems.append(f"received {event} {payload!r}: {error}")
    for event, calls in RECORDED.acked.items():
        # An event without a handler ("Unknown event" probes) can only be refused.
        request, replies = contract.sent.get(event, (None, [contract.error_ack]))
        for sent, ack in calls.values():
            for error in contract.errors(replies, ack)[:1]:
                problems.append(f"ack of {event} {ack!r}: {error}")
            if request is not None and isinstance(ack, dict) and ack.get("ok") is True:
                for error in contract.errors([request], sent)[:1]:
                    problems.append(f"accepted {event} {sent!r}: {error}")
    return problems


async def _scenario(server, make_user, make_stream, token_for) -> None:
    """Cause every server event but ``NOT_PLAYED`` once, through real clients."""
    owner, viewer, bystander = make_user(), make_user(), make_user()
    stream = make_stream(streamer=owner)
    sid = str(stream.pk)
    clients = [Client(server.url) for _ in range(3)]
    try:
        streamer, watcher, other = clients
        await streamer.connect(token_for(owner))
        await watcher.connect(token_for(viewer))
        await other.connect(token_for(bystander))
        await Client(server.url).refused("not a token")
        await watcher.call("join_notification_room")
        for client in clients:
            await client.call("join_stream_room", {"streamId": sid})
        await watcher.call("join_stream_room", {"streamId": "nope"})
        said = await watcher.call("chat_message", {"streamId": sid, "message": "hello"})
        await watcher.call("chat_message", {"streamId": sid, "message": ""})
        await watcher.call("moderation_clear_chat", {"streamId": sid})
        await watcher.call("no_such_event", {})
        mark = watcher.mark()
        await sync_to_async(notify)(viewer, "test", {"streamId": sid})
        await watcher.wait_for("notification", after=mark)
        target = {"streamId": sid, "userId": str(viewer.pk)}
        await streamer.call("moderation_set_slow_mode", {"streamId": sid, "seconds": 0})
        await streamer.call("moderation_timeout_user", {**target, "seconds": 30})
        await streamer.call("moderation_unban_user", target)
        await streamer.call("moderation_ban_user", {**target, "reason": "contract"})
        await streamer.call("moderation_unban_user", target)
        await streamer.call("moderation_delete_message", {"streamId": sid, "messageId": said["id"]})
        await streamer.call("moderation_clear_chat", {"streamId": sid})
        mark = other.mark()
        await streamer.call("leave_stream_room", {"streamId": sid})
        await other.wait_for("viewer_count_updated", after=mark)
        mark = other.mark()
        await sync_to_async(_deactivate)(bystander.pk)
        await other.wait_for("access_revoked", after=mark)
        mark = watcher.mark()
        await sync_to_async(stream.end)(reason="That's all")
        await watcher.wait_for("stream_ended_notification", after=mark)
        assert await watcher.wait_disconnected() == SERVER_DISCONNECT
    finally:
        for client in clients:
            await client.close()


def _deactivate(user_id: int) -> None:
    user = get_user_model().objects.get(pk=user_id)
    user.is_active = False
    user.save()


@pytest.mark.django_db(transaction=True)
@pytest.mark.run_last
async def test_every_recorded_payload_matches_its_schema(
    document, server, make_user, make_stream, token_for
):
    await _scenario(server, make_user, make_stream, token_for)
    played = set(RECORDED.received) - HANDSHAKE
    assert _event_names(document, "send") - HANDSHAKE - NOT_PLAYED <= played
    assert _violations(document) == []


def test_a_payload_off_its_schema_is_reported(document):
    """The check itself can fail: a made-up payload of each kind is caught."""
    saved = RECORDED.received, RECORDED.acked
    try:
        RECORDED.received = {"viewer_count_updated": {"x": {"streamId": "x", "count": -1}}}
        RECORDED.acked = {"chat_message": {"y": ({"streamId": "s"}, {"ok": True})}}
        problems = _violations(document)
    finally:
        RECORDED.received, RECORDED.acked = saved
    assert len(problems) == 3, problems
