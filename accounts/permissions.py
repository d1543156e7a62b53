"""Role checks: one decorator for pages, one DRF permission per role. Used everywhere.

The rule for pages: anonymous visitors are sent to the login page; a signed-in
user of the wrong role gets 403. The API answers 401 without credentials and 403
for the wrong role.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django_htmx.http import HttpResponseClientRedirect
from rest_framework.permissions import BasePermission

from accounts.models import User


def has_role(user, *roles) -> bool:
    return bool(user and user.is_authenticated and user.role in roles)


def role_required(*roles):
    """Page decorator: ``@role_required(User.Role.PARTNER)``."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                response = redirect_to_login(request.get_full_path())
                # htmx would follow a 302 and put the login page inside a fragment.
                return HttpResponseClientRedirect(response.url) if getattr(request, "htmx", False) else response
            if request.user.role not in roles:
                raise PermissionDenied("This page is not available for your account type.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class _RolePermission(BasePermission):
    role = None
    message = "Your account type cannot do this."

    def has_permission(self, request, view):
        return has_role(request.user, self.role)


class IsCustomer(_RolePermission):
    role = User.Role.CUSTOMER
    message = "Only customers can do this."


class IsPartner(_RolePermission):
    role = User.Role.PARTNER
    message = "Only delivery partners can do this."


class IsAdmin(_RolePermission):
    role = User.Role.ADMIN
    message = "Only admins can do this."
