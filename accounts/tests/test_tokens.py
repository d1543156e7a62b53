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
