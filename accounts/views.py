from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import RegisterForm
from accounts.models import User
from accounts.services import register_user

ROLE_HOMES = {
    User.Role.CUSTOMER: "orders:catalog",
    User.Role.PARTNER: "dispatch:board",
    User.Role.ADMIN: "dispatch:dashboard",
}


def home(request):
    """Send each role to its own home page."""
    if not request.user.is_authenticated:
        return redirect("orders:catalog")
    return redirect(ROLE_HOMES[request.user.role])


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:home")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = register_user(
            username=data["username"],
            password=data["password1"],
            role=data["role"],
            email=data.get("email", ""),
            phone=data.get("phone", ""),
            first_name=data.get("first_name", ""),
            validate=False,  # the form already ran the password validators
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.display_name}! Your account is ready.")
        return redirect("accounts:home")
    return render(request, "accounts/register.html", {"form": form})
