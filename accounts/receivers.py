"""Changes to a user that revoke access, whatever path made them (admin, shell, commands).

Only saves and deletes through the ORM instance send these signals; a bulk
``QuerySet.update(is_active=False)`` does not, and must be followed by
:func:`accounts.revocation.user_sockets_disconnect` for each user.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.revocation import (
    ACCOUNT_DELETED,
    ACCOUNT_DISABLED,
    user_refresh_tokens_revoke,
    user_sockets_disconnect,
)

logger = logging.getLogger(__name__)


def _disconnect_after_commit(user_id: object, reason: str) -> None:
    def disconnect() -> None:
        try:
            user_sockets_disconnect(user_id=user_id, reason=reason)
        except Exception:
            # The change is committed either way; a Redis outage must not turn it into an error.
            logger.exception("could not disconnect the sockets of user %s", user_id)

    transaction.on_commit(disconnect)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.user_saved")
def user_saved(sender, instance, created: bool, **kwargs) -> None:
    if created:
        return
    if not instance.is_active:
        _disconnect_after_commit(instance.pk, ACCOUNT_DISABLED)
    # set_password() keeps the new raw password until the save completes.
    if getattr(instance, "_password", None) is not None:
        user_refresh_tokens_revoke(user=instance)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.user_deleted")
def user_deleted(sender, instance, **kwargs) -> None:
    _disconnect_after_commit(instance.pk, ACCOUNT_DELETED)
