"""Refresh-token revocation on both stores.

simplejwt's ``token_blacklist`` app cannot be used: its models declare an explicit
``BigAutoField`` primary key, which django-mongodb-backend refuses (mongodb.E001).
So revocation is ours: one ``accounts.RevokedToken`` row per dead refresh token
(logout, or rotation), with a unique ``jti`` - inserting it is the compare-and-set
that makes a refresh token single-use even when two refreshes race.
"""

from django.db import IntegrityError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

REVOKED = "Token is blacklisted"


class RevocableRefreshToken(RefreshToken):
    def verify(self):
        super().verify()
        from accounts.models import RevokedToken

        if RevokedToken.objects.filter(jti=self.payload[api_settings.JTI_CLAIM]).exists():
            raise TokenError(REVOKED)

    def blacklist(self):
        """Revoke this token; TokenError if it already was (someone else used it first)."""
        from accounts.models import RevokedToken

        try:
            RevokedToken.objects.create(
                jti=self.payload[api_settings.JTI_CLAIM], expires_at=datetime_from_epoch(self.payload["exp"])
            )
        except IntegrityError:
            raise TokenError(REVOKED) from None


class RotatingRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, with our revocable token: ROTATE_REFRESH_TOKENS and
    BLACKLIST_AFTER_ROTATION make it call ``blacklist()`` on the token it rotates."""

    token_class = RevocableRefreshToken


def purge_expired_revocations(*, now=None) -> int:
    """Delete revocation rows of tokens that have expired anyway; returns how many."""
    from django.utils import timezone

    from accounts.models import RevokedToken

    deleted, _ = RevokedToken.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
