from __future__ import annotations

import pytest

from streams.signals import stream_ended


@pytest.fixture
def ended_signals():
    """Every ``stream_ended`` sent during the test, as ``(stream_id, reason)``."""
    sent: list[tuple[str, str]] = []

    def record(sender, stream, reason, **kwargs) -> None:
        sent.append((str(stream.pk), reason))

    stream_ended.connect(record, weak=False, dispatch_uid="tests.ended_signals")
    yield sent
    stream_ended.disconnect(dispatch_uid="tests.ended_signals")
