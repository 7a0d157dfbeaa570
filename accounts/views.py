from __future__ import annotations

from rest_framework import generics
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
)

from accounts.serializers import RefreshSerializer, RegisterSerializer
from livestream.throttling import ScopedClientThrottle


class RegisterView(generics.CreateAPIView):
    serializer_class = RegisterSerializer
    authentication_classes: list = []
    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "auth"


class TokenView(TokenObtainPairView):
    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "auth"


class TokenRefresh(TokenRefreshView):
    serializer_class = RefreshSerializer
    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "auth"


class Logout(TokenBlacklistView):
    """``{refresh}`` in: that refresh token is blacklisted (200 ``{}``)."""

    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "auth"
