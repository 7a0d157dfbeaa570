"""The two Engine.IO transports: WebSocket and HTTP long-polling.

Both move text packets between a client and a :class:`~gateway.session.Session`
through :func:`gateway.engine.receive`; framing is theirs alone.
"""
