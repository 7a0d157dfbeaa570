"""Signals of the streams domain.

``stream_ended`` is sent by :meth:`streams.models.Stream.end` once the ending
transaction has committed, exactly once per stream. Arguments: ``sender`` (the
Stream class), ``stream`` and ``reason``.
"""

from django.dispatch import Signal

stream_ended = Signal()

# Sent (with ``asend``) when a socket has joined a stream's room, after
# ``room_joined_successfully``: other apps add what a joiner should get
# (chat sends the recent history). Arguments: ``session``, ``stream_id``.
stream_room_joined = Signal()
