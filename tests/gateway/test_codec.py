"""The Socket.IO packet decoder, on exact strings (what follows the Engine.IO ``4``)."""

import pytest

from gateway import codec


@pytest.mark.parametrize(
    ("data", "decoded"),
    [
        ("0", (codec.CONNECT, None, None, None)),
        ('0{"token":"t"}', (codec.CONNECT, None, None, {"token": "t"})),
        ('0/admin,{"token":"t"}', (codec.CONNECT, "/admin", None, {"token": "t"})),
        ("1", (codec.DISCONNECT, None, None, None)),
        ("1/admin", (codec.DISCONNECT, "/admin", None, None)),
        ('2["hi",{"a":1}]', (codec.EVENT, None, None, ["hi", {"a": 1}])),
        ('20["hi"]', (codec.EVENT, None, 0, ["hi"])),
        ('29007199254740991["hi"]', (codec.EVENT, None, 2**53 - 1, ["hi"])),
        ('2/,7["hi"]', (codec.EVENT, "/", 7, ["hi"])),
        ('2["\\ud800"]', (codec.EVENT, None, None, ["\ud800"])),
        ("3 [1]", (codec.ACK, None, None, [1])),
    ],
)
def test_decodes(data, decoded):
    packet = codec.decode_socketio(data)
    assert (packet.packet_type, packet.namespace, packet.id, packet.data) == decoded


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("", "unknown Socket.IO packet type"),
        ("7", "unknown Socket.IO packet type"),
        ("x", "unknown Socket.IO packet type"),
        ('2["hi"', "malformed JSON"),
        ('2["hi",NaN]', "malformed JSON"),
        ('2x["hi"]', "malformed JSON"),
        ('2-1["hi"]', "malformed JSON"),
        ('21.5["hi"]', "malformed JSON"),
        ('2\u0661["hi"]', "malformed JSON"),  # an Arabic-Indic one is a digit, not an ack id
        ('21-["hi"]', "malformed JSON"),  # attachments only on binary packets
        ('29007199254740992["hi"]', "ack id out of range"),
        ("2" + "9" * 400 + '["hi"]', "ack id out of range"),
        ('2["hi",' + "[" * 32 + "]" * 32 + "]", "JSON nested deeper than 32 levels"),
        ('2["hi",' + "[" * 10_000, "JSON nested deeper than 32 levels"),
        ('2["hi",' + "[" * 100_000, "JSON with more than 10000 arrays and objects"),
        ('2["hi",' + "[]," * 10_000 + "1]", "JSON with more than 10000 arrays and objects"),
        ('2["hi",' + "[" * 40 + '"' + '\\"' * 1000, "JSON nested deeper than 32 levels"),
        ('2["hi",1e999999]', "malformed JSON: number out of range"),
        ('2["hi",-1e400]', "malformed JSON: number out of range"),
        ('2["hi",0.' + "1" * 200 + "]", "malformed JSON: number too long"),
        ('2["hi",' + "1" * 200 + "]", "malformed JSON: Integer is too large"),
        ("0/" + "a" * 129 + ",{}", "namespace longer than 128 characters"),
    ],
)
def test_refuses(data, error):
    with pytest.raises(codec.ProtocolError, match=error) as refused:
        codec.decode_socketio(data)
    assert not isinstance(refused.value, codec.BinaryNotSupported)


@pytest.mark.parametrize("data", ['51-["hi",{"_placeholder":true,"num":0}]', '5["hi"]', "61-0[{}]"])
def test_refuses_binary_packets_without_waiting_for_attachments(data):
    with pytest.raises(codec.BinaryNotSupported):
        codec.decode_socketio(data)


def test_brackets_inside_strings_do_not_count():
    data = '2["hi","' + "[" * 20_000 + '\\"\\\\",' + "[" * 31 + "]" * 31 + "]"
    assert codec.decode_socketio(data).data[0] == "hi"


def test_nesting_up_to_32_levels_is_fine():
    data = '2["hi",' + "[" * 31 + "]" * 31 + "]"
    assert codec.decode_socketio(data).data[0] == "hi"
