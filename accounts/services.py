"""Creating user accounts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser


def user_register(*, username: str, password: str, email: str = "") -> AbstractBaseUser:
    """Create an ordinary (non-staff) user; the password must already be validated."""
    return get_user_model().objects.create_user(username=username, password=password, email=email)
