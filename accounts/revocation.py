"""Taking a user's access away: their open sockets and their refresh tokens.

Authentication happens once per socket, at CONNECT, so a ban must reach the
sockets already open: a revocation is one per-user broadcast on the bus every
worker listens to (:func:`gateway.rooms.emit_to_user`), which tells each of the
user's sockets why and then disconnects it (a server-initiated Socket.IO
DISCONNECT). No socket subscribes to anything for this at CONNECT. Refresh tokens are revoked
through simplejwt's blacklist; access tokens run out on their own
(``JWT_ACCESS_MINUTES``) and are refused at CONNECT for inactive users.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from gateway.rooms import emit_to_user_sync

ACCESS_REVOKED_EVENT = "access_revoked"
ACCOUNT_DISABLED = "Your account has been disabled"
ACCOUNT_DELETED = "Your account has been deleted"


def user_sockets_disconnect(*, user_id: object, reason: str) -> None:
    """Send ``access_revoked {message}`` to every socket of the user, then disconnect them."""
    emit_to_user_sync(user_id, ACCESS_REVOKED_EVENT, {"message": reason}, disconnect=True)


def user_refresh_tokens_revoke(*, user: AbstractBaseUser) -> int:
    """Blacklist every refresh token issued to ``user`` that is not blacklisted yet."""
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    tokens = [BlacklistedToken(token=token) for token in outstanding]
    BlacklistedToken.objects.bulk_create(tokens, ignore_conflicts=True)
    return len(tokens)
