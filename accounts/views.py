from __future__ import annotations

from rest_framework import generics
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.serializers import RegisterSerializer
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
    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "auth"
