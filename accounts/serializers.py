from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, serializers
from rest_framework_simplejwt.serializers import TokenRefreshSerializer

from accounts.services import user_register

User = get_user_model()


class RegisterSerializer(serializers.ModelSerializer):
    """``{username, password, email?}`` in, ``{id, username}`` out."""

    class Meta:
        model = User
        fields = ["id", "username", "password", "email"]
        extra_kwargs = {
            "password": {"write_only": True, "style": {"input_type": "password"}},
            "email": {"required": False},
        }

    def validate(self, attrs: dict) -> dict:
        # The similarity validator compares the password with the other fields.
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs

    def create(self, validated_data: dict):
        try:
            return user_register(**validated_data)
        except IntegrityError:
            # Lost a race with another registration of the same name.
            raise serializers.ValidationError(
                {"username": ["A user with that username already exists."]}
            ) from None

    def to_representation(self, instance) -> dict:
        return {"id": str(instance.pk), "username": instance.get_username()}


class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, answering 401 (not 500) when the token's user no longer exists."""

    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except User.DoesNotExist:
            raise exceptions.AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None
