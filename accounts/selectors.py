"""Reads about accounts that other apps share."""

from accounts.models import PartnerProfile


def is_partner_online(user) -> bool:
    """Whether ``user`` is a delivery partner who is online now (one query)."""
    return PartnerProfile.objects.filter(user=user, online=True).exists()
