"""Ready-made WebSocket frames parse as one final text frame, at every length size."""

import pytest
from wsproto.frame_protocol import FrameProtocol, Opcode

from gateway.wsframe import text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 1_000_000])
def test_text_frame_round_trips(size):
    payload = ("é" * size)[:size]
    parser = FrameProtocol(client=True, extensions=[])
    parser.receive_bytes(text_frame(payload))
    (frame,) = list(parser.received_frames())
    assert frame.opcode is Opcode.TEXT
    assert frame.frame_finished and frame.message_finished
    assert frame.payload == payload
