from datetime import timedelta

from django.utils import timezone

from orders.templatetags.shop import ago


def test_ago_says_just_now_under_a_minute_and_minutes_after():
    now = timezone.now()
    assert ago(now, now) == "just now"
    assert ago(now - timedelta(seconds=59), now) == "just now"
    assert ago(now - timedelta(minutes=5, seconds=10), now) == "5\xa0minutes ago"
    assert ago(None) == ""
