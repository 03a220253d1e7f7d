from __future__ import annotations

from django import forms


def normalize_order_number(value: str) -> str:
    return value.strip().lstrip("#").strip()


class LookupForm(forms.Form):
    order_number = forms.CharField(
        label="Order number",
        max_length=64,
        help_text="From your order confirmation, e.g. 1001.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    contact = forms.CharField(
        label="Email or postal code",
        max_length=254,
        help_text="The email you ordered with, or the delivery postal code.",
        widget=forms.TextInput(attrs={"autocomplete": "email"}),
    )

    def clean_order_number(self) -> str:
        value = normalize_order_number(self.cleaned_data["order_number"])
        if not value:
            raise forms.ValidationError("Enter your order number.")
        return value

    def clean_contact(self) -> str:
        return self.cleaned_data["contact"].strip()


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
                              widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


class NotReceivedForm(forms.Form):
    note = forms.CharField(label="Tell us more (optional)", required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
