"""Django admin for accounts, and the rule every ModelAdmin here follows: the role
decides. Admins (role admin, always staff) may use every admin page; nobody else may,
whatever their ``is_staff`` flag or Django permissions say. Customers and partners are
not staff, so Django's admin login refuses them before any of this runs.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.urls import reverse_lazy

from accounts.forms import LimitedAdminAuthenticationForm
from accounts.models import PartnerProfile, User
from accounts.services import partner_profile
from accounts.usernames import check_new_username, username_key

admin.site.site_header = "quickcommerce operations"
admin.site.site_title = "quickcommerce admin"
admin.site.index_title = "Operations"
admin.site.site_url = reverse_lazy("dispatch:dashboard")
# The admin's login counts toward the same login limits as the page and the API token
# (accounts.forms; quickcommerce/urls.py answers 429 past a limit).
admin.site.login_form = LimitedAdminAuthenticationForm

# Roles replace groups in this project; an unused Group page would only suggest otherwise.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


def is_ops_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role == User.Role.ADMIN)


class AdminRoleMixin:
    """Permissions by role: admins may view, add, change and delete (unless the
    ModelAdmin narrows that further); everyone else may do nothing."""

    def has_module_permission(self, request):
        return is_ops_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_ops_admin(request.user)

    def has_add_permission(self, request, *args):
        return is_ops_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_ops_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_ops_admin(request.user)


class PartnerProfileInline(AdminRoleMixin, admin.StackedInline):
    model = PartnerProfile
    fields = ("display_name", "phone", "online", "updated_at")
    # Availability is the partner's own switch (dispatch.services.set_availability);
    # the partner-profile admin has a "take offline" action for stale sessions.
    readonly_fields = ("online", "updated_at")
    can_delete = False
    max_num = 1
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False


class QuickUserCreationForm(AdminUserCreationForm):
    def clean_username(self):
        # The project's username rules and one exact lookup of the key, instead of
        # Django's username__iexact (accounts.usernames).
        return check_new_username(self.cleaned_data["username"])


class QuickUserChangeForm(UserChangeForm):
    def __init__(self, *args, editor=None, **kwargs):
        self.editor = editor
        super().__init__(*args, **kwargs)

    def clean_username(self):
        username = self.cleaned_data["username"]
        if self.instance.pk is not None and username_key(username) == self.instance.username_key:
            return username  # the same name (perhaps in another case): nothing to check
        return check_new_username(username, exclude_pk=self.instance.pk)

    def clean_role(self):
        role = self.cleaned_data["role"]
        if self.editor is not None and self.instance.pk == self.editor.pk and role != User.Role.ADMIN:
            raise forms.ValidationError("You cannot take away your own admin role.")
        return role


@admin.register(User)
class UserAdmin(AdminRoleMixin, DjangoUserAdmin):
    form = QuickUserChangeForm
    add_form = QuickUserCreationForm
    list_display = ("username", "full_name", "role", "email", "phone", "is_active", "date_joined")
    list_filter = ("role", "is_active")
    search_fields = ("username", "first_name", "last_name", "email", "phone")
    ordering = ("username",)
    list_per_page = 50
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email", "phone")}),
        (
            "Role",
            {
                "fields": ("role", "is_active"),
                "description": "Admins reach this admin and the live dashboard (an admin is always staff); "
                "customers and partners never do.",
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "role", "usable_password", "password1", "password2")}),
    )

    @admin.display(description="Name", ordering="first_name")
    def full_name(self, obj):
        return obj.get_full_name()

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            return form

        class EditorForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, editor=request.user, **inner)

        return EditorForm

    def get_inlines(self, request, obj):
        return [PartnerProfileInline] if obj is not None and obj.is_partner else []

    def save_model(self, request, obj, form, change):
        # Staff follows the role (User.save makes admins staff); a user moved out of the
        # admin role loses the admin with it.
        if obj.role != User.Role.ADMIN:
            obj.is_staff = False
            obj.is_superuser = False
        super().save_model(request, obj, form, change)
        if obj.role == User.Role.PARTNER:
            partner_profile(obj)
