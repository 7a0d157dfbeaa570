"""Every byte a client sends costs linear time (issue 8, §1).

Each adversarial shape is handed to the consumer's per-frame entry point
(``EngineIOConsumer.websocket_receive``: admission, Engine.IO and Socket.IO
decoding, dispatch, the chat handler's text cleaning), before CONNECT and once
connected. Doubling a 250 KB frame may at most about double its handling
time (2.5×, plus 2 ms for fixed costs and timer noise), and a 1 MB frame is
handled in well under 100 ms, or within twice what ``json.loads`` alone takes
for 1 MB of the costliest valid JSON on this machine in this run, if the
machine is that slow (a shared machine varies; the decoder is the peer).
Times are the thread's CPU time spent in the handling itself, the best of
several repeats, all measured in one run.

A quadratic step shows at once: the regex this replaced took 0.9 s for 8,000
escaped quotes and would take an hour for the 1 MB frame.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from gateway import events, limits
from gateway.auth import Identity
from gateway.session import Session, State
from gateway.transports.websocket import EngineIOConsumer

SIZES = (250_000, 500_000, 1_000_000)
REPEATS = 5
MAX_RATIO = 2.5
SLACK = 0.002
MAX_CPU_1MB = 0.1
STREAM = str(uuid.UUID(int=1))


def _fill(head: str, unit: str, tail: str, size: int) -> str:
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


SHAPES = {
    # The frame of the issue: an unterminated string of escaped quotes after 40 brackets.
    "escaped-quotes-after-brackets": lambda n: _fill("42" + "[" * 40 + '"', '\\"', "", n),
    "unterminated-string": lambda n: _fill('42["chat_message","', "a", "", n),
    "unterminated-string-of-backslashes": lambda n: _fill('42["x","', "\\", "", n),
    "quotes-only": lambda n: _fill("42[", '"', "", n),
    "deep-nesting-open": lambda n: _fill("42", "[", "", n),
    "deep-nesting-closed": lambda n: _fill("42", "[", "", n // 2) + "]" * (n // 2),
    "nesting-31-repeated": lambda n: _fill('42["x"', "," + "[" * 30 + "]" * 30, "]", n),
    "many-arrays": lambda n: _fill('42["x"', ",[]", "]", n),
    "long-namespace-no-comma": lambda n: _fill("42/", "n", "", n),
    "long-namespace-connect": lambda n: _fill("40/", "n", ',{"token":"t"}', n),
    "long-ack-id": lambda n: _fill("42", "7", '["x"]', n),
    "whitespace-in-json": lambda n: _fill('42["x",', " ", "1]", n),
    "whitespace-in-chat-message": lambda n: _fill(
        f'421["chat_message",{{"streamId":"{STREAM}","message":"', " ", 'x"}]', n
    ),
    "invisible-chars-in-chat-message": lambda n: _fill(
        f'421["chat_message",{{"streamId":"{STREAM}","message":"', "\\u200b", 'x"}]', n
    ),
    "unicode-escapes": lambda n: _fill('42["x","', "\\u0041", '"]', n),
    "unicode-escapes-unterminated": lambda n: _fill('42["x","', "\\u00", "", n),
    "huge-exponent": lambda n: _fill('42["x",1e', "9", "]", n),
    "huge-integer": lambda n: _fill('42["x",', "1", "]", n),
    "long-fraction": lambda n: _fill('42["x",0.', "1", "]", n),
    "many-keys": lambda n: _fill('42["x",{"k":0', ',"k":0', "}]", n),
    "many-distinct-keys": lambda n: (
        '42["x",{' + ",".join(f'"{i}":0' for i in range(n // 10)) + "}]"
    ),
    "many-strings": lambda n: _fill('42["x"', ',"a"', "]", n),
    "ping-payload": lambda n: _fill("2", "x", "", n),
    "close-with-payload": lambda n: _fill("1", "x", "", n),
}


class Recorder:
    """Stands in for the ASGI ``send``: what the consumer answers and how it closes."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def __call__(self, message: dict) -> None:
        self.messages.append(message)


async def _nothing(*args, **kwargs) -> None:
    return None


@pytest.fixture
def no_release(monkeypatch):
    """Closing a connected session releases its slot and presence: not what is measured."""
    monkeypatch.setattr(limits, "release_connection", _nothing)
    monkeypatch.setattr(events, "run_disconnect_handlers", _nothing)


async def _handle(frame: str, stage: State) -> tuple[float, list[dict]]:
    consumer = EngineIOConsumer()
    consumer.scope = {"type": "websocket"}
    consumer.base_send = Recorder()
    consumer._wire = None
    consumer.session = Session(consumer)
    if stage is State.CONNECTED:
        consumer.session.connected(Identity(id="1", username="u", is_staff=False))
    message = {"type": "websocket.receive", "text": frame}
    started = time.thread_time()
    await consumer.websocket_receive(message)
    return time.thread_time() - started, consumer.base_send.messages


def _decoder_time() -> float:
    """The thread CPU time of ``json.loads`` on 1 MB of distinct keys, best of the repeats."""
    text = "{" + ",".join(f'"{i}":0' for i in range(SIZES[-1] // 10)) + "}"
    best = float("inf")
    for _ in range(REPEATS):
        started = time.thread_time()
        json.loads(text)
        best = min(best, time.thread_time() - started)
    return best


def _best_times(frames: dict[int, str], stage: State) -> dict[int, float]:
    async def measure() -> dict[int, float]:
        best = dict.fromkeys(frames, float("inf"))
        for _ in range(REPEATS):
            for size, frame in frames.items():
                spent, _ = await _handle(frame, stage)
                best[size] = min(best[size], spent)
        return best

    return asyncio.run(measure())


@pytest.mark.parametrize("stage", [State.AWAITING_CONNECT, State.CONNECTED], ids=lambda s: s.name)
@pytest.mark.parametrize("shape", SHAPES)
def test_handling_a_frame_is_linear_in_its_size(shape, stage, no_release, settings):
    frames = {size: SHAPES[shape](size) for size in SIZES}
    best = _best_times(frames, stage)
    small, double, mb = (best[size] for size in SIZES)
    assert double <= MAX_RATIO * small + SLACK, f"{shape}: {small:.4f}s -> {double:.4f}s"
    bound = max(MAX_CPU_1MB, 2 * _decoder_time())
    assert mb < bound, f"{shape}: {mb:.4f}s for 1 MB (bound {bound:.4f}s)"


def test_the_issue_frame_is_closed_before_connect_without_reading_it(no_release):
    frame = "42" + "[" * 40 + '"' + '\\"' * 497_000

    async def run():
        return await _handle(frame, State.AWAITING_CONNECT)

    spent, sent = asyncio.run(run())
    assert sent == [{"type": "websocket.close", "code": 4009}]
    assert spent < 0.01
