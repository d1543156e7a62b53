"""Django admin for the catalog: categories and products (stock edits go through
``orders.services.set_stock``). Orders are in ``dispatch.admin``, with the operations
that change them.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from accounts.admin import AdminRoleMixin
from orders.errors import StockChanged
from orders.models import Category, Product
from orders.services import set_stock


@admin.register(Category)
class CategoryAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class ProductAdminForm(forms.ModelForm):
    """Stock keeps the value the admin saw (a hidden initial), so a change only writes
    what the admin changed, and a stock edit is refused if orders moved stock meanwhile."""

    class Meta:
        model = Product
        fields = ("category", "name", "slug", "description", "unit", "price", "stock", "active", "image")
        widgets = {"image": forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"})}

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
    fields = ("category", "name", "slug", "description", "unit", "price", "stock", "active", "image", "picture_preview")
    readonly_fields = ("picture_preview",)
    list_display = ("list_picture", "name", "category", "unit", "price", "stock", "active")
    list_display_links = ("list_picture", "name")
    list_editable = ("price", "stock")
    list_filter = ("active", "category")
    search_fields = ("name", "slug", "description")
    list_select_related = ("category",)
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("name",)
    list_per_page = 50

    @admin.display(description="Preview")
    def picture_preview(self, product):
        """The picture as the product page shows it (its 640 px rendition), or what shows instead."""
        if not product.image:
            return "No picture: the shop shows a grocery bag instead."
        html = '<img src="{}" alt="{}" width="200" class="product-preview">'
        return format_html(html, product.picture.url, product.name)

    @admin.display(description="")
    def list_picture(self, product):
        if not product.image:
            return "—"
        html = '<img src="{}" alt="" width="40" class="product-preview">'
        return format_html(html, product.thumbnail.url)

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
