from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework_simplejwt.serializers import (
    TokenBlacklistSerializer,
    TokenObtainPairSerializer,
)
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


def _or_401(serializer, why: str):
    """simplejwt answers 401 for bad credentials or tokens on these unauthenticated views."""
    return extend_schema(responses={200: serializer, 401: OpenApiResponse(description=why)})


@_or_401(TokenObtainPairSerializer, "Wrong username or password, or an inactive account.")
class TokenView(TokenObtainPairView):
    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "auth"


@_or_401(RefreshSerializer, "The refresh token is invalid, expired, blacklisted or its user gone.")
class TokenRefresh(TokenRefreshView):
    serializer_class = RefreshSerializer
    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "auth"


@_or_401(TokenBlacklistSerializer, "The refresh token is invalid, expired or already blacklisted.")
class Logout(TokenBlacklistView):
    """``{refresh}`` in: that refresh token is blacklisted (200 ``{}``)."""

    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "auth"
