from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from orders.models import Store

SHOP_REQUIRED = "Choose the shop you ordered from."


def normalize_order_number(value: str) -> str:
    return value.strip().lstrip("#").strip()


class LookupForm(forms.Form):
    """Order number plus email or postal code, within one store.

    `scope` is the store the lookup is for (the page's `?store=<slug>`, or the hub's only store): its slug
    rides along in a hidden field and the posted value is ignored (a disabled field keeps its initial), so
    the search never leaves that store. Without a scope the visitor chooses the shop from `stores`."""

    store = forms.ChoiceField(
        label="Shop",
        help_text="The shop you ordered from.",
        error_messages={"required": SHOP_REQUIRED, "invalid_choice": SHOP_REQUIRED},
    )
    order_number = forms.CharField(
        label="Order number",
        max_length=64,
        help_text="From your order confirmation, e.g. 1001.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
        error_messages={"required": "Enter your order number."},
    )
    contact = forms.CharField(
        label="Email or postal code",
        max_length=254,
        help_text="The email you ordered with, or the delivery postal code.",
        widget=forms.TextInput(attrs={"autocomplete": "email"}),
        error_messages={"required": "Enter the email address or postal code of the order."},
    )

    def __init__(self, *args: Any, stores: Sequence[Store], scope: Store | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope = scope
        self._stores = {s.slug: s for s in ([scope] if scope is not None else stores)}
        field = self.fields["store"]
        if scope is not None:
            field.choices = [(scope.slug, scope.name)]
            field.widget = forms.HiddenInput()
            field.disabled = True
            self.initial["store"] = scope.slug
        else:
            field.choices = [("", "Choose your shop"), *((s.slug, s.name) for s in stores)]

    def clean_store(self) -> Store:
        return self._stores[self.cleaned_data["store"]]

    def clean_order_number(self) -> str:
        value = normalize_order_number(self.cleaned_data["order_number"])
        if not value:
            raise forms.ValidationError("Enter your order number.")
        return value

    def clean_contact(self) -> str:
        value = self.cleaned_data["contact"].strip()
        if not value:
            raise forms.ValidationError("Enter the email address or postal code of the order.")
        return value


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="Did everything arrive OK?",
        choices=[(n, str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        help_text="1 is very unhappy, 5 is very happy.",
        error_messages={"required": "Choose a rating from 1 to 5."},
    )
    comment = forms.CharField(label="Anything to add? (optional)", required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              error_messages={"max_length": "Keep it to %(limit_value)d characters or fewer "
                                                            "(it has %(show_value)d)."})  # fmt: skip


class NotReceivedForm(forms.Form):
    note = forms.CharField(label="Tell us more (optional)", required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}),
                           error_messages={"max_length": "Keep it to %(limit_value)d characters or fewer "
                                                         "(it has %(show_value)d)."})  # fmt: skip
