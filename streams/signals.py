"""Signals of the streams domain.

``stream_ended`` is sent by :meth:`streams.models.Stream.end` once the ending
transaction has committed, exactly once per stream. Arguments: ``sender`` (the
Stream class), ``stream`` and ``reason``.
"""

from django.dispatch import Signal

stream_ended = Signal()
