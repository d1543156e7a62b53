"""Refresh-token revocation on both stores, by token and by family.

simplejwt's ``token_blacklist`` app cannot be used: its models declare an explicit
``BigAutoField`` primary key, which django-mongodb-backend refuses (mongodb.E001).
So revocation is ours: one ``accounts.RevokedToken`` row per dead refresh token
(logout, or rotation), with a unique ``jti`` - inserting it is the compare-and-set
that makes a refresh token single-use even when two refreshes race.

**Families.** A log-in starts a family: its refresh token carries ``family`` (its own
jti), and every token rotated from it carries the same ``family``. A refresh token
that is presented again after it was revoked (rotated away, or logged out) means two
parties hold that chain - the client and whoever copied the token - and nobody can
tell which is which. So the whole family is revoked: one more ``RevokedToken`` row
whose ``jti`` is ``"family:<family>"``, which every token of the family checks. The
client logs in again; the thief's copy is dead too. Access tokens already issued
live out their ``JWT_ACCESS_MINUTES``.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.signals import revoke_after_commit
from quickcommerce.api import StrictCharField

REVOKED = "Token is blacklisted"
FAMILY_CLAIM = "family"


def family_row(family: str) -> str:
    return f"family:{family}"


class TokenReused(TokenError):
    """A revoked refresh token came back: its family has been revoked."""


class RevocableRefreshToken(RefreshToken):
    no_copy_claims = (*RefreshToken.no_copy_claims, FAMILY_CLAIM)  # not in access tokens

    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[FAMILY_CLAIM] = token[api_settings.JTI_CLAIM]
        return token

    @property
    def family(self) -> str:
        # Tokens issued before families existed are each a family of their own.
        return self.payload.get(FAMILY_CLAIM) or self.payload[api_settings.JTI_CLAIM]

    def verify(self):
        super().verify()
        from accounts.models import RevokedToken

        jti = self.payload[api_settings.JTI_CLAIM]
        revoked = set(RevokedToken.objects.filter(jti__in=[jti, family_row(self.family)]).values_list("jti", flat=True))
        if family_row(self.family) in revoked:
            raise TokenError(REVOKED)
        if jti in revoked:
            self.revoke_family()
            raise TokenReused(REVOKED)

    def blacklist(self):
        """Revoke this token; if it already was (someone else used it first), revoke
        its family and raise ``TokenReused``."""
        from accounts.models import RevokedToken

        try:
            with transaction.atomic():  # a savepoint: the transaction stays usable after a clash
                RevokedToken.objects.create(
                    jti=self.payload[api_settings.JTI_CLAIM], expires_at=datetime_from_epoch(self.payload["exp"])
                )
        except IntegrityError:
            self.revoke_family()
            raise TokenReused(REVOKED) from None

    def log_out(self):
        """An API logout: revoke this token, and close the user's open websockets
        (``blacklist`` alone is also a rotation, which must not close them)."""
        self.blacklist()
        self._close_sockets()

    def revoke_family(self):
        """Revoke every refresh token of this family. Each was issued before now and
        lives at most REFRESH_TOKEN_LIFETIME, so the row may go after that."""
        from accounts.models import RevokedToken

        expires_at = timezone.now() + api_settings.REFRESH_TOKEN_LIFETIME + timedelta(minutes=1)
        RevokedToken.objects.get_or_create(jti=family_row(self.family), defaults={"expires_at": expires_at})
        self._close_sockets()

    def _close_sockets(self):
        """The user's open websockets go too (accounts.signals): they reconnect afresh."""
        user_id = self.payload.get(api_settings.USER_ID_CLAIM)
        if user_id is not None:
            revoke_after_commit(user_id)


class RotatingRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, with our revocable token: ROTATE_REFRESH_TOKENS and
    BLACKLIST_AFTER_ROTATION make it call ``blacklist()`` on the token it rotates,
    and the new token keeps the ``family`` claim (rotation copies the payload)."""

    refresh = StrictCharField()  # a string, as documented (simplejwt's takes 42 for "42")
    token_class = RevocableRefreshToken

    def validate(self, attrs):
        from accounts.models import User

        try:
            return super().validate(attrs)
        except User.DoesNotExist:  # the account was deleted: simplejwt would let this out as a 500
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account") from None


def purge_expired_revocations(*, now=None) -> int:
    """Delete revocation rows of tokens that have expired anyway; returns how many."""
    from accounts.models import RevokedToken

    deleted, _ = RevokedToken.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
