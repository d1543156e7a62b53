from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from accounts.models import User
from accounts.services import SELF_SERVICE_ROLES
from accounts.throttles import LOGIN_THROTTLES, check_page_throttles
from accounts.usernames import check_new_username


class RegisterForm(UserCreationForm):
    role = forms.ChoiceField(
        choices=[(role, User.Role(role).label) for role in SELF_SERVICE_ROLES],
        widget=forms.RadioSelect,
        initial=User.Role.CUSTOMER,
        label="I want to",
        help_text="Customers order groceries; delivery partners deliver them.",
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "first_name", "email", "phone", "role")
        labels = {"first_name": "Your name"}

    def clean_username(self):
        # Instead of Django's ``username__iexact`` (a regex scan on MongoDB): the
        # project's rules and one exact lookup of the name's key (accounts.usernames).
        return check_new_username(self.cleaned_data["username"])


class LimitedLoginMixin:
    """A login form behind the login limits (per address, per username: the counters
    the API's token endpoint shares). Past a limit the form is invalid with the
    limit's message, ``self.limited`` is ``(message, retry_after)``, and the password
    is never checked."""

    limited = None

    def clean(self):
        limited = check_page_throttles(self.request, LOGIN_THROTTLES)
        if limited is not None:
            self.limited = limited
            raise forms.ValidationError(limited[0], code="throttled")
        return super().clean()


class LimitedAuthenticationForm(LimitedLoginMixin, AuthenticationForm):
    """The login page's form."""


class LimitedAdminAuthenticationForm(LimitedLoginMixin, AdminAuthenticationForm):
    """The admin site's login form (``admin.site.login_form``, accounts/admin.py)."""


class EmailSettingsForm(forms.Form):
    order_emails = forms.BooleanField(
        required=False,
        label="Email me when my order is accepted, out for delivery, delivered or cancelled",
    )
