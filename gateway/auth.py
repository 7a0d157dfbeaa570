"""Who is connecting: the JWT sent as ``auth.token`` in the Socket.IO CONNECT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from livestream.batching import BatchLoader

AUTHENTICATION_ERROR = "Authentication error"


@dataclass(frozen=True, slots=True)
class Identity:
    """The user a session acts for: what the original app put on ``socket.user``."""

    id: str
    username: str
    is_staff: bool


def _user_id_from(auth: Any) -> Any | None:
    if not isinstance(auth, dict):
        return None
    token = auth.get("token")
    if not isinstance(token, str) or not token or not token.isascii():
        return None  # a JWT is base64url and dots; PyJWT fails on lone surrogates
    try:
        # Verifies signature, expiry (with the configured leeway) and that
        # token_type is "access"; the algorithm list is pinned by simplejwt.
        validated = AccessToken(token)
    except TokenError:
        return None
    return validated.get(api_settings.USER_ID_CLAIM)


def _fetch_users(user_ids: list) -> dict:
    user_model = get_user_model()
    field = api_settings.USER_ID_FIELD
    valid = []
    for user_id in user_ids:
        try:
            valid.append(user_model._meta.get_field(field).to_python(user_id))
        except (ValidationError, ValueError, TypeError):
            continue
    users = user_model.objects.filter(**{f"{field}__in": valid}).only(
        field, user_model.USERNAME_FIELD, "is_active", "is_staff"
    )
    by_id = {str(getattr(user, field)): user for user in users}
    return {user_id: by_id.get(str(user_id)) for user_id in user_ids}


# A connect storm costs a query per batch of users, not one per socket.
_users = BatchLoader(_fetch_users)


async def authenticate(auth: Any) -> Identity | None:
    """The identity for a CONNECT payload, or None when it must be refused."""
    user_id = _user_id_from(auth)
    if user_id is None or not isinstance(user_id, (str, int)) or isinstance(user_id, bool):
        return None
    user = await _users.load(user_id)
    if user is None or not user.is_active:
        return None
    return Identity(id=str(user.pk), username=user.get_username(), is_staff=user.is_staff)
