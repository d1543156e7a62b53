"""Django admin for dispatch: partner profiles, and the admin's order operations.

Every operation calls a service in ``dispatch.services`` (which checks the transition
table, appends the OrderEvent with the admin as actor and publishes the live event);
nothing here writes an order. ``OrderOperationsMixin`` gives ``orders.admin.OrderAdmin``
its changelist actions and the per-order operation pages linked from the order page.
"""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from accounts.admin import AdminRoleMixin, is_ops_admin
from accounts.models import PartnerProfile, User
from dispatch import services
from orders.models import ACTIVE_STATUSES, Order, can_transition
from quickcommerce.errors import DomainError

S = Order.Status
ADMIN = User.Role.ADMIN


# --- forms -------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason (shown on the order's timeline)",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"size": 60}),
    )


class PartnerChoiceField(forms.ModelChoiceField):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.active_counts = {}

    def label_from_instance(self, obj):
        try:
            profile = obj.partner_profile
        except PartnerProfile.DoesNotExist:
            profile = None
        name = (profile.display_name if profile else "") or obj.display_name
        state = "online" if profile and profile.online else "offline"
        active = self.active_counts.get(obj.pk, 0)
        return f"{name} ({obj.username}) — {state}, {active} active"


class ReassignForm(forms.Form):
    partner = PartnerChoiceField(
        queryset=User.objects.none(), to_field_name="username", label="New partner", empty_label="Choose a partner"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["partner"]
        field.queryset = (
            User.objects.filter(role=User.Role.PARTNER, is_active=True)
            .select_related("partner_profile")
            .order_by("username")
        )
        counts = {}
        for partner_id in Order.objects.filter(status__in=ACTIVE_STATUSES, partner__isnull=False).values_list(
            "partner_id", flat=True
        ):
            counts[partner_id] = counts.get(partner_id, 0) + 1
        field.active_counts = counts


class ConfirmForm(forms.Form):
    pass


# --- operations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    title: str
    button: str
    done: str
    explain: str
    form: type[forms.Form]

    def applies_to(self, order) -> bool:
        if self.name == "cancel":
            return can_transition(order.status, S.CANCELLED, ADMIN)
        if self.name == "release":
            return can_transition(order.status, S.PLACED, ADMIN)
        if self.name == "reassign":
            return order.status == S.ACCEPTED
        if self.name == "reset_code":
            return order.is_open and order.code_attempts > 0
        return False

    def run(self, *, admin_user, order, data: dict[str, Any]):
        if self.name == "cancel":
            return services.admin_cancel_order(admin=admin_user, order_ref=order.ref, reason=data.get("reason", ""))
        if self.name == "release":
            return services.release_order(admin=admin_user, order_ref=order.ref, reason=data.get("reason", ""))
        if self.name == "reassign":
            return services.reassign_order(admin=admin_user, order_ref=order.ref, partner=data["partner"])
        if self.name == "reset_code":
            return services.reset_delivery_code(admin=admin_user, order_ref=order.ref)
        raise ValueError(self.name)


OPERATIONS = {
    op.name: op
    for op in (
        Operation(
            name="cancel",
            title="Cancel orders",
            button="Cancel the orders",
            done="cancelled",
            explain="The customer and the assigned partner see it at once; stock goes back to the shelf if the "
            "order was not picked up yet. Delivered and cancelled orders cannot be cancelled.",
            form=ReasonForm,
        ),
        Operation(
            name="release",
            title="Release orders to the board",
            button="Release to the board",
            done="released back to the board",
            explain="The partner loses the order and it goes back on the board for any online partner. "
            "Only accepted orders that are not picked up yet can be released.",
            form=ReasonForm,
        ),
        Operation(
            name="reassign",
            title="Reassign orders",
            button="Reassign",
            done="reassigned",
            explain="Hands the order to another partner; the previous partner sees it leave their board. "
            "Only accepted orders that are not picked up yet can be reassigned.",
            form=ReassignForm,
        ),
        Operation(
            name="reset_code",
            title="Unlock delivery codes",
            button="Unlock the codes",
            done="delivery code unlocked",
            explain="Sets the wrong-code tries back to zero so the partner can enter the customer's code again. "
            "The code itself stays the same.",
            form=ConfirmForm,
        ),
    )
}


def run_operation(request, operation: Operation, orders, data, *, log=None) -> int:
    """Run ``operation`` on each order through its service; one message per order."""
    done = 0
    for order in orders:
        try:
            operation.run(admin_user=request.user, order=order, data=data)
        except DomainError as error:
            messages.error(request, f"{order.ref}: {error}")
            continue
        done += 1
        note = f"{order.ref}: {operation.done}"
        if operation.name == "reassign":
            note += f" to {data['partner']}"
        messages.success(request, f"{note}.")
        if log:
            log(request, order, f"{operation.title} (admin operation).")
    return done


def _operation_action(name):
    operation = OPERATIONS[name]

    def action(modeladmin, request, queryset):
        return modeladmin.operation_action(request, queryset, operation)

    action.__name__ = f"{name}_orders"
    return admin.action(description=f"{operation.title}…")(action)


cancel_orders = _operation_action("cancel")
release_orders = _operation_action("release")
reassign_orders = _operation_action("reassign")


@admin.action(description="Unlock delivery codes")
def reset_delivery_codes(modeladmin, request, queryset):
    run_operation(request, OPERATIONS["reset_code"], queryset, {}, log=modeladmin.log_operation)


class OrderOperationsMixin:
    """Changelist actions and per-order operation pages for OrderAdmin."""

    actions = (cancel_orders, release_orders, reassign_orders, reset_delivery_codes)
    operation_template = "admin/orders/order/operation.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<str:object_id>/operation/<slug:name>/",
                self.admin_site.admin_view(self.operation_view),
                name="{}_{}_operation".format(*info),
            ),
            *super().get_urls(),
        ]

    def log_operation(self, request, order, message):
        self.log_change(request, order, message)

    def operations_for(self, order):
        return [op for op in OPERATIONS.values() if op.applies_to(order)]

    def _render_operation(self, request, operation, orders, form, *, action=None, single=None):
        opts = self.opts
        back = (
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[single.ref])
            if single
            else reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": operation.title,
            "subtitle": single.ref if single else None,
            "opts": opts,
            "operation": operation,
            "orders": orders,
            "form": form,
            "action": action,
            "single": single,
            "back_url": back,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.operation_template, context)

    def operation_action(self, request, queryset, operation):
        """A changelist action: an intermediate page with the form, then the operation."""
        orders = list(queryset.select_related("customer", "partner").order_by("-created_at"))
        if "apply" in request.POST:
            form = operation.form(request.POST)
            if form.is_valid():
                run_operation(request, operation, orders, form.cleaned_data, log=self.log_operation)
                return None  # back to the changelist, with the messages
        else:
            form = operation.form()
        return self._render_operation(request, operation, orders, form, action=f"{operation.name}_orders")

    def operation_view(self, request, object_id, name):
        """One order's operation page (linked from the order page): GET the form, POST it."""
        if not is_ops_admin(request.user):
            raise PermissionDenied
        operation = OPERATIONS.get(name)
        order = self.get_object(request, object_id)
        if operation is None or order is None:
            raise Http404("No such order or operation.")
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.ref])
        if request.method == "POST":
            form = operation.form(request.POST)
            if form.is_valid():
                run_operation(request, operation, [order], form.cleaned_data, log=self.log_operation)
                return HttpResponseRedirect(change_url)
        else:
            form = operation.form()
        return self._render_operation(request, operation, [order], form, single=order)


# --- partner profiles --------------------------------------------------------------------


@admin.action(description="Take selected partners offline")
def take_offline(modeladmin, request, queryset):
    for profile in queryset.select_related("user"):
        if not profile.online:
            messages.info(request, f"{profile}: already offline.")
            continue
        try:
            services.set_availability(partner=profile.user, online=False)
        except DomainError as error:
            messages.error(request, f"{profile}: {error}")
        else:
            messages.success(request, f"{profile}: now offline; they stop seeing new orders.")


@admin.register(PartnerProfile)
class PartnerProfileAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("display_name", "username", "phone", "online", "active_orders", "updated_at")
    list_filter = ("online",)
    search_fields = ("display_name", "user__username", "phone")
    fields = ("user", "display_name", "phone", "online", "active_orders", "updated_at")
    # Availability changes only through dispatch.services.set_availability (the action).
    readonly_fields = ("user", "online", "active_orders", "updated_at")
    actions = (take_offline,)
    list_per_page = 50

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user")
            .prefetch_related(
                Prefetch(
                    "user__deliveries",
                    queryset=Order.objects.filter(status__in=ACTIVE_STATUSES).order_by("created_at"),
                    to_attr="active_deliveries",
                )
            )
        )

    @admin.display(description="Username", ordering="user__username")
    def username(self, obj):
        return obj.user.username

    @admin.display(description="Active order")
    def active_orders(self, obj):
        active = getattr(obj.user, "active_deliveries", None)
        if active is None:
            active = list(Order.objects.filter(partner=obj.user, status__in=ACTIVE_STATUSES))
        if not active:
            return "—"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a> ({})',
            (
                (reverse("admin:orders_order_change", args=[order.ref]), order.ref, order.get_status_display())
                for order in active
            ),
        )

    def has_add_permission(self, request):
        return False  # partners get their profile when they register

    def has_delete_permission(self, request, obj=None):
        return False
