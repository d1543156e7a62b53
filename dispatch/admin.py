"""Django admin for dispatch: orders with the operations that change them, and partner profiles.

Orders are read-only here: every operation calls a service (``orders.services.cancel_order``
or ``dispatch.services``), which checks the transition table, appends the OrderEvent with
the admin as actor and publishes the live event; nothing here writes an order. Orders
cannot be added, edited or deleted in the admin.

Order pages are addressed by the order's ref (``/admin/orders/order/<ref>/change/``),
like every other URL in the project; Django's own links by primary key still work.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.admin import AdminRoleMixin, is_ops_admin
from accounts.models import PartnerProfile, User
from dispatch import services
from dispatch.selectors import active_deliveries
from orders.models import ACTIVE_STATUSES, REF_PATTERN, Order, OrderEvent, OrderItem, can_transition
from orders.services import cancel_order
from quickcommerce.errors import DomainError

REF_RE = re.compile(REF_PATTERN)


# --- forms -------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason (shown on the order's timeline)",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"size": 60}),
    )


class PartnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        try:
            profile = obj.partner_profile
        except PartnerProfile.DoesNotExist:
            profile = None
        name = (profile.display_name if profile else "") or obj.display_name
        state = "online" if profile and profile.online else "offline"
        return f"{name} ({obj.username}) — {state}, {len(obj.active_deliveries)} active"


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
            .prefetch_related(active_deliveries())
            .order_by("username")
        )


class ConfirmForm(forms.Form):
    pass


# --- operations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """An admin operation on orders: which orders it applies to, and the service it runs."""

    name: str
    title: str
    button: str
    done: str
    explain: str
    form: type[forms.Form]
    applies_to: Callable[[Order], bool]
    run: Callable[..., Order]  # run(admin_user, order, cleaned_data)
    done_detail: Callable[[dict], str] = lambda data: ""


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
            applies_to=lambda order: can_transition(order.status, Order.Status.CANCELLED, User.Role.ADMIN),
            run=lambda admin_user, order, data: cancel_order(
                actor=admin_user, order_ref=order.ref, reason=data.get("reason", "")
            ),
        ),
        Operation(
            name="release",
            title="Release orders to the board",
            button="Release to the board",
            done="released back to the board",
            explain="The partner loses the order and it goes back on the board for any online partner. "
            "Only accepted orders that are not picked up yet can be released.",
            form=ReasonForm,
            applies_to=lambda order: can_transition(order.status, Order.Status.PLACED, User.Role.ADMIN),
            run=lambda admin_user, order, data: services.release_order(
                admin=admin_user, order_ref=order.ref, reason=data.get("reason", "")
            ),
        ),
        Operation(
            name="reassign",
            title="Reassign orders",
            button="Reassign",
            done="reassigned",
            explain="Hands the order to another partner; the previous partner sees it leave their board. "
            "Only accepted orders that are not picked up yet can be reassigned.",
            form=ReassignForm,
            applies_to=lambda order: order.status == Order.Status.ACCEPTED,
            run=lambda admin_user, order, data: services.reassign_order(
                admin=admin_user, order_ref=order.ref, partner=data["partner"]
            ),
            done_detail=lambda data: f" to {data['partner']}",
        ),
        Operation(
            name="reset_code",
            title="Unlock delivery codes",
            button="Unlock the codes",
            done="delivery code unlocked",
            explain="Sets the wrong-code tries back to zero so the partner can enter the customer's code again. "
            "The code itself stays the same.",
            form=ConfirmForm,
            applies_to=lambda order: order.status in ACTIVE_STATUSES and order.code_attempts > 0,
            run=lambda admin_user, order, data: services.reset_delivery_code(admin=admin_user, order_ref=order.ref),
        ),
    )
}


def run_operation(request, operation: Operation, orders, data: dict[str, Any], *, log=None) -> int:
    """Run ``operation`` on each order through its service; one message per order."""
    done = 0
    for order in orders:
        try:
            operation.run(request.user, order, data)
        except DomainError as error:
            messages.error(request, f"{order.ref}: {error}")
            continue
        done += 1
        messages.success(request, f"{order.ref}: {operation.done}{operation.done_detail(data)}.")
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
        orders = list(queryset.select_related("customer", "partner").order_by("-created_at", "-pk"))
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


# --- orders ------------------------------------------------------------------------------


class ReadOnlyInline(AdminRoleMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = ("name", "unit_price", "quantity", "line_total")
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    verbose_name = "event"
    verbose_name_plural = "events (the timeline, oldest first)"
    fields = ("at", "status", "version", "actor", "note")
    readonly_fields = fields
    ordering = ("at", "version")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class PartnerFilter(admin.SimpleListFilter):
    title = "partner"
    parameter_name = "partner"
    UNASSIGNED = "-"

    def lookups(self, request, model_admin):
        partners = User.objects.filter(role=User.Role.PARTNER).order_by("username")
        return [(self.UNASSIGNED, "Unassigned"), *((p.username, f"{p.display_name} ({p.username})") for p in partners)]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.UNASSIGNED:
            return queryset.filter(partner__isnull=True)
        if value:
            return queryset.filter(partner__username=value)
        return queryset


class OrderChangeList(ChangeList):
    def url_for_result(self, result):
        opts = self.opts
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[result.ref],
            current_app=self.model_admin.admin_site.name,
        )


@admin.register(Order)
class OrderAdmin(OrderOperationsMixin, AdminRoleMixin, admin.ModelAdmin):
    list_display = ("ref", "status", "customer", "partner", "total", "item_count", "area", "created_at", "code_tries")
    list_display_links = ("ref",)
    list_filter = ("status", PartnerFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("ref", "customer__username")
    search_help_text = "Order ref or customer username"
    list_select_related = ("customer", "partner")
    ordering = ("-created_at", "-pk")
    list_per_page = 50
    view_on_site = False
    inlines = (OrderItemInline, OrderEventInline)
    fieldsets = (
        ("Order", {"fields": ("ref", "status", "version", "customer", "partner", "created_at", "updated_at")}),
        ("Delivery", {"fields": ("address", "area", "note", "delivery_code", "code_attempts")}),
        ("Money", {"fields": ("item_count", "subtotal", "delivery_fee", "total")}),
        (
            "Timeline",
            {
                "fields": (
                    "timeline",
                    "accepted_at",
                    "picked_up_at",
                    "out_for_delivery_at",
                    "delivered_at",
                    "cancelled_at",
                )
            },
        ),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    # Orders change only through services: no add, no edit, no delete here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    def get_object(self, request, object_id, from_field=None):
        """By ref (the project's public id), else by primary key (Django's own links)."""
        queryset = self.get_queryset(request)
        if from_field is None and object_id and REF_RE.fullmatch(object_id):
            order = queryset.filter(ref=object_id).first()
            if order is not None:
                return order
        return super().get_object(request, object_id, from_field)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if order is not None and is_ops_admin(request.user):
            extra_context["order_operations"] = [
                {
                    "name": operation.name,
                    "label": operation.title.replace("orders", "order").replace("codes", "code"),
                    "url": reverse("admin:orders_order_operation", args=[order.ref, operation.name]),
                }
                for operation in self.operations_for(order)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Code tries")
    def code_tries(self, obj):
        if obj.code_locked:
            return format_html('<strong class="qc-locked">{} (locked)</strong>', obj.code_attempts)
        return obj.code_attempts or "—"

    @admin.display(description="Timeline")
    def timeline(self, obj):
        events = obj.events.select_related("actor").order_by("at", "version")
        rows = (
            (
                timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S"),
                event.get_status_display(),
                event.actor.username if event.actor else "system",
                f" — {event.note}" if event.note else "",
            )
            for event in events
        )
        return format_html(
            '<ol class="qc-timeline">{}</ol>',
            format_html_join("", "<li><time>{}</time> <strong>{}</strong> by {}{}</li>", rows),
        )


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
            super().get_queryset(request).select_related("user").prefetch_related(active_deliveries("user__deliveries"))
        )

    @admin.display(description="Username", ordering="user__username")
    def username(self, obj):
        return obj.user.username

    @admin.display(description="Active order")
    def active_orders(self, obj):
        active = obj.user.active_deliveries
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
