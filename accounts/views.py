from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import RegisterForm
from accounts.models import User
from accounts.services import register_user
from accounts.throttles import LOGIN_THROTTLES, RegisterIPThrottle, check_page_throttles

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


def _too_many(request, template, context, limited):
    """429: the page again, with the limit's message above the form (``limit_error``)."""
    message, retry_after = limited
    response = render(request, template, {**context, "limit_error": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class ThrottledLoginView(LoginView):
    """Django's login page with the API's limits: per client address and per username
    tried (the same counters as /api/auth/token/). Past a limit: 429, the form with
    the reason, and no password check at all."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        limited = check_page_throttles(request, LOGIN_THROTTLES)
        if limited is None:
            return super().post(request, *args, **kwargs)
        # An unbound form: a bound one would run authenticate() when rendered with errors.
        form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")[:150]})
        return _too_many(request, self.template_name, self.get_context_data(form=form), limited)


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:home")
    if request.method == "POST" and (limited := check_page_throttles(request, [RegisterIPThrottle])):
        return _too_many(request, "accounts/register.html", {"form": RegisterForm()}, limited)
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
