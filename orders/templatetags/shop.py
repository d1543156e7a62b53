"""Template filters the shop's pages share ({% load shop %})."""

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(value, now=None):
    """ "just now" under a minute, else "5 minutes ago" (Django's timesince would say
    "0 minutes ago")."""
    if not value:
        return ""
    now = now or timezone.now()
    if (now - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value, now)} ago"
