"""Input of the partner actions. Only parsing: the rules live in dispatch.services."""

from django import forms

from orders.models import Order


class AvailabilityForm(forms.Form):
    online = forms.TypedChoiceField(
        choices=[("true", "Online"), ("false", "Offline")],
        coerce=lambda value: value == "true",
    )


class AdvanceForm(forms.Form):
    status = forms.ChoiceField(choices=Order.Status.choices)
    # Checked (and wrong tries counted) by dispatch.services.advance_order.
    code = forms.CharField(required=False, max_length=8, label="Customer's delivery code")
