from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.errors import UsernameTaken
from accounts.forms import EmailSettingsForm, LimitedAuthenticationForm, RegisterForm
from accounts.models import User
from accounts.permissions import role_required
from accounts.services import register_user, set_order_emails
from accounts.throttles import RegisterIPThrottle, check_page_throttles

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


def _limited_login_response(response, form):
    """A login form refused by the limits (``LimitedLoginMixin``): 429 and Retry-After."""
    if getattr(form, "limited", None) is not None:
        response.status_code = 429
        response["Retry-After"] = str(form.limited[1])
    return response


class ThrottledLoginView(LoginView):
    """Django's login page with the API's limits: per client address and per username
    tried (the same counters as /api/auth/token/ and the admin's login). Past a limit:
    429, the form with the reason, and no password check at all."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = LimitedAuthenticationForm

    def form_invalid(self, form):
        return _limited_login_response(super().form_invalid(form), form)


def admin_login(request, extra_context=None):
    """The admin site's own login view (``admin.site.login``, whose form is
    ``LimitedAdminAuthenticationForm``: the login limits), answering 429 with
    Retry-After past a limit, as the login page does."""
    response = admin.site.login(request, extra_context)
    context = getattr(response, "context_data", None) or {}
    return _limited_login_response(response, context.get("form"))


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:home")
    if request.method == "POST" and (limited := check_page_throttles(request, [RegisterIPThrottle])):
        return _too_many(request, "accounts/register.html", {"form": RegisterForm()}, limited)
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = register_user(
                username=data["username"],
                password=data["password1"],
                role=data["role"],
                email=data.get("email", ""),
                phone=data.get("phone", ""),
                first_name=data.get("first_name", ""),
                validate=False,  # the form already ran the password and username rules
            )
        except UsernameTaken as exc:  # registered meanwhile
            form.add_error("username", str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.display_name}! Your account is ready.")
            return redirect("accounts:home")
    return render(request, "accounts/register.html", {"form": form})


@role_required(User.Role.CUSTOMER)
@require_http_methods(["GET", "POST"])
def email_settings(request):
    """A customer's own settings: order emails on or off (notifications reads it)."""
    # An unticked box posts nothing: an empty POST is still a submitted form.
    form = EmailSettingsForm(
        request.POST if request.method == "POST" else None, initial={"order_emails": request.user.order_emails}
    )
    if request.method == "POST" and form.is_valid():
        set_order_emails(user=request.user, enabled=form.cleaned_data["order_emails"])
        messages.success(request, "Saved: order emails are " + ("on." if request.user.order_emails else "off."))
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})
