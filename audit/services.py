"""Writing the moderation audit trail.

Callers are the places that act for a moderator (REST views, admin actions,
services called from them): they know who acts and from which client address
(:mod:`livestream.client_address`; ``"local"`` for a management command).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from audit.models import ModerationRecord
from livestream.client_address import request_client_address

LOCAL = "local"  # a management command run on the server


def moderation_records(
    *,
    actor,
    action: str,
    targets: Iterable[models.Model],
    client_address: str = LOCAL,
    detail: str = "",
    stream_id: object = None,
) -> list[ModerationRecord]:
    """Store that ``actor`` (a user, or None for the system) did ``action`` to each target.

    ``stream_id`` is the stream concerned; by default a target's own ``stream_id``
    (a chat message's), if it has one.
    """
    has_pk = actor is not None and actor.pk is not None
    records = [
        ModerationRecord(
            actor=actor if has_pk else None,
            actor_name=actor.get_username() if actor is not None else LOCAL,
            action=action,
            target_type=target._meta.label,
            target_id=str(target.pk),
            target_repr=str(target)[:200],
            detail=detail[:200],
            client_address=client_address[:64],
            stream_id=str(stream_id or getattr(target, "stream_id", None) or ""),
        )
        for target in targets
    ]
    return ModerationRecord.objects.bulk_create(records)


def moderation_record_for_request(
    request, *, action: str, target: models.Model, detail: str = ""
) -> ModerationRecord:
    """Record one action by the request's user, from the request's client address."""
    (record,) = moderation_records(
        actor=request.user,
        action=action,
        targets=[target],
        client_address=request_client_address(request),
        detail=detail,
    )
    return record
