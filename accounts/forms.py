from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User
from accounts.services import SELF_SERVICE_ROLES


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
