import pytest

pytestmark = pytest.mark.django_db(transaction=True)


async def test_connect_join_chat(server, connect, user, make_stream):
    stream = make_stream()
    client = await connect(server, user)
    joining = client.mark()
    ack = await client.call("join_stream_room", {"streamId": str(stream.pk)})
    assert ack["ok"] is True
    await client.wait_for("viewer_count_updated", after=joining)
    chatting = client.mark()
    ack = await client.call("chat_message", {"streamId": str(stream.pk), "message": " hi "})
    assert ack["ok"] is True, ack
    msg = await client.wait_for("new_message", after=chatting)
    assert msg["message"] == "hi"
