"""Django admin for the catalog and orders.

Orders are read-only here: every change to an order goes through a service (the
operations from ``dispatch.admin``), so it lands on the order's timeline and reaches
every screen live. Orders cannot be added, edited or deleted in the admin.

Order pages are addressed by the order's ref (``/admin/orders/order/<ref>/change/``),
like every other URL in the project; Django's own links by primary key still work.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.admin import AdminRoleMixin, is_ops_admin
from accounts.models import User
from dispatch.admin import OrderOperationsMixin
from orders.errors import StockChanged
from orders.models import REF_PATTERN, Category, Order, OrderEvent, OrderItem, Product
from orders.services import set_stock

REF_RE = re.compile(REF_PATTERN)


@admin.register(Category)
class CategoryAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class HttpsURLField(forms.URLField):
    """A URL field that assumes https for a bare domain (Django 6's default)."""

    def __init__(self, *, assume_scheme="https", **kwargs):
        super().__init__(assume_scheme=assume_scheme, **kwargs)


class ProductAdminForm(forms.ModelForm):
    """Stock keeps the value the admin saw (a hidden initial), so a change only writes
    what the admin changed, and a stock edit is refused if orders moved stock meanwhile."""

    class Meta:
        model = Product
        fields = ("category", "name", "slug", "description", "unit", "price", "stock", "active", "image_url")
        field_classes = {"image_url": HttpsURLField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "stock" in self.fields:
            self.fields["stock"].show_hidden_initial = True

    def shown_stock(self):
        field = self.fields["stock"]
        name = self.add_initial_prefix("stock")
        try:
            return field.to_python(field.hidden_widget().value_from_datadict(self.data, self.files, name))
        except ValidationError:
            return None

    def clean_stock(self):
        """Early, friendly check; orders.services.set_stock is what enforces it on save."""
        stock = self.cleaned_data["stock"]
        if self.instance.pk and "stock" in self.changed_data:
            current = Product.objects.filter(pk=self.instance.pk).values_list("stock", flat=True).first()
            shown = self.shown_stock()
            if shown is not None and current is not None and current != shown:
                raise ValidationError(str(StockChanged(self.instance, current, shown)))
        return stock


@admin.register(Product)
class ProductAdmin(AdminRoleMixin, admin.ModelAdmin):
    form = ProductAdminForm
    formfield_overrides = {models.URLField: {"form_class": HttpsURLField}}
    list_display = ("name", "category", "unit", "price", "stock", "active")
    list_editable = ("price", "stock")
    list_filter = ("active", "category")
    search_fields = ("name", "slug", "description")
    list_select_related = ("category",)
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("name",)
    list_per_page = 50

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", ProductAdminForm)
        return super().get_changelist_form(request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        concrete = {field.name for field in Product._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in concrete]
        if "stock" in changed:
            changed.remove("stock")
            try:
                set_stock(product=obj, shown=form.shown_stock(), stock=obj.stock)
            except StockChanged as error:
                messages.error(request, f"{obj.name}: stock not changed. {error}")
        if changed:
            obj.save(update_fields=changed)


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
    ordering = ("-created_at",)
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
