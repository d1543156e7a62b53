"""Input of the customer pages. Forms check shape (numbers, lengths, required);
the cart and orders.services check the rules (stock, what may be ordered)."""

import uuid

from django import forms

from orders.models import AREA_MAX_LENGTH, MAX_ADDRESS, MAX_NOTE, MAX_QUANTITY, Product

QUANTITY_ERROR = f"Enter a whole number from 1 to {MAX_QUANTITY}."


class CatalogFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, strip=True)
    category = forms.SlugField(required=False)

    def filters(self) -> dict:
        """``search`` and ``category_slug`` for ``orders.selectors.catalog_products``;
        anything malformed is ignored rather than failing the page."""
        self.is_valid()  # cleaned_data keeps the fields that are valid
        data = self.cleaned_data
        return {"search": data.get("q", ""), "category_slug": data.get("category", "")}


class CartProductForm(forms.Form):
    product = forms.ModelChoiceField(
        queryset=Product.objects.select_related("category"),
        widget=forms.HiddenInput,
        error_messages={"required": "Choose a product.", "invalid_choice": "That product is not in our catalog."},
    )

    def error_text(self) -> str:
        """The form's errors as one line, for the product card or the cart line."""
        return " ".join(message for messages in self.errors.values() for message in messages)


class CartQuantityForm(CartProductForm):
    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_QUANTITY,
        error_messages={
            "required": QUANTITY_ERROR,
            "invalid": QUANTITY_ERROR,
            "min_value": QUANTITY_ERROR,
            "max_value": QUANTITY_ERROR,
        },
    )


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


class CheckoutForm(forms.Form):
    address = forms.CharField(
        label="Delivery address",
        max_length=MAX_ADDRESS,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
        help_text="Street, number and flat, then the area after a comma, e.g. 12 Rue des Lilas, Flat 3, "
        "Montmartre. Riders see only the area until one accepts your order.",
        error_messages={"required": "Please enter a delivery address."},
    )
    area = forms.CharField(
        label="Neighbourhood (optional)",
        required=False,
        max_length=AREA_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "address-level3"}),
        help_text="What riders see before one accepts. No numbers or names; empty: the last part of your address.",
    )
    note = forms.CharField(
        label="Note for your rider (optional)",
        required=False,
        max_length=MAX_NOTE,
        widget=forms.TextInput(attrs={"placeholder": "e.g. ring twice, leave at the door"}),
    )
    # The drop-off pin (static/js/maps.js sets them; optional: without JavaScript the address is enough).
    latitude = forms.FloatField(
        required=False, min_value=-90, max_value=90, widget=forms.HiddenInput(attrs={"data-pin": "latitude"})
    )
    longitude = forms.FloatField(
        required=False, min_value=-180, max_value=180, widget=forms.HiddenInput(attrs={"data-pin": "longitude"})
    )
    # A fresh key each time the form is rendered: submitting the same form twice
    # (double click, retry, back button) returns the first order instead of a second.
    idempotency_key = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=new_idempotency_key,
        error_messages={"required": "Please submit the form again.", "invalid": "Please submit the form again."},
    )
