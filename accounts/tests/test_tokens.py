from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import RevokedToken

pytestmark = pytest.mark.django_db


def test_purge_deletes_only_expired_revocations(capsys):
    now = timezone.now()
    RevokedToken.objects.create(jti="old", expires_at=now - timedelta(minutes=1))
    RevokedToken.objects.create(jti="live", expires_at=now + timedelta(days=1))
    call_command("purge_revoked_tokens")
    assert list(RevokedToken.objects.values_list("jti", flat=True)) == ["live"]
    assert "Deleted 1 expired revocations." in capsys.readouterr().out


# --- a reused refresh token revokes its family -----------------------------------------------

TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
LOGOUT = "/api/auth/logout/"


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def log_in(client, username="alice"):
    response = post(client, TOKEN, {"username": username, "password": "a-long-passphrase"})
    assert response.status_code == 200, response.content
    return response.json()["refresh"]


def refresh(client, token):
    return post(client, REFRESH, {"refresh": token})


def test_reusing_a_rotated_refresh_token_kills_the_whole_chain(client, customer):
    """The attack: a thief copies refresh token R1; the client rotates it (R1 -> R2 ->
    R3); the thief's R1 is refused, but before this fix the chain it started stayed
    valid. Now reusing R1 revokes R3 too: both sides must log in again."""
    r1 = log_in(client)
    r2 = refresh(client, r1).json()["refresh"]
    r3 = refresh(client, r2).json()["refresh"]

    reused = refresh(client, r1)
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_not_valid"
    assert refresh(client, r3).status_code == 401
    assert post(client, LOGOUT, {"refresh": r3}).status_code == 401

    # A new log-in starts a new family, which works.
    fresh = log_in(client)
    assert refresh(client, fresh).status_code == 200


def test_other_log_ins_of_the_same_user_are_not_touched(client, customer, other_customer):
    phone, laptop, bobs = log_in(client), log_in(client), log_in(client, "bob")
    rotated = refresh(client, phone).json()["refresh"]
    assert refresh(client, phone).status_code == 401  # reuse: the phone's family dies
    assert refresh(client, rotated).status_code == 401
    assert refresh(client, laptop).status_code == 200  # the laptop's log-in lives on
    assert refresh(client, bobs).status_code == 200


def test_a_logged_out_token_presented_again_revokes_its_family(client, customer):
    r1 = log_in(client)
    r2 = refresh(client, r1).json()["refresh"]
    assert post(client, LOGOUT, {"refresh": r1}).status_code == 401  # already rotated: reuse
    assert refresh(client, r2).status_code == 401


def test_a_refresh_that_races_another_with_the_same_token_revokes_the_family(client, customer, monkeypatch):
    """Two refreshes of one token at once: the loser's insert of the revocation row
    fails (the unique jti), which is a reuse: the winner's new token dies too."""
    from accounts import tokens
    from quickcommerce.testing import interleave

    r1 = log_in(client)
    won = {}
    interleave(monkeypatch, tokens.RevocableRefreshToken, "blacklist", lambda: won.update(refresh(client, r1).json()))
    lost = refresh(client, r1)
    assert lost.status_code == 401
    assert refresh(client, won["refresh"]).status_code == 401


def test_family_revocations_expire_after_the_refresh_lifetime(client, customer, settings):
    from rest_framework_simplejwt.settings import api_settings

    r1 = log_in(client)
    refresh(client, r1)
    refresh(client, r1)
    row = RevokedToken.objects.get(jti__startswith="family:")
    lifetime = row.expires_at - timezone.now()
    assert api_settings.REFRESH_TOKEN_LIFETIME < lifetime < api_settings.REFRESH_TOKEN_LIFETIME + timedelta(minutes=2)


def test_access_tokens_do_not_carry_the_family(client, customer):
    from rest_framework_simplejwt.tokens import AccessToken

    response = post(client, TOKEN, {"username": "alice", "password": "a-long-passphrase"})
    assert "family" not in AccessToken(response.json()["access"]).payload


def test_a_refresh_token_of_a_deleted_account_is_a_401_not_a_500(client, customer):
    token = log_in(client)
    customer.delete()
    response = refresh(client, token)
    assert response.status_code == 401
    assert response.json()["detail"] == "No active account found for the given token."
