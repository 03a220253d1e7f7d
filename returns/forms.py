from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError

from .eligibility import ItemEligibility, OrderEligibility
from .services import ReturnLine


@dataclass
class ItemRow:
    """One order line on the form: its eligibility and, when eligible, its bound fields."""

    item: ItemEligibility
    fields: dict[str, forms.BoundField]

    @property
    def errors(self) -> list[str]:
        return [e for f in self.fields.values() for e in f.errors]


class ReturnStartForm(forms.Form):
    """Built from the order's eligibility: a row of fields per returnable item, and the resolutions the
    policy offers. Shapes are checked here; the policy is checked again by the service."""

    resolution = forms.ChoiceField(
        label="How would you like it resolved?",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a refund, store credit or an exchange."},
    )

    def __init__(self, eligibility: OrderEligibility, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eligibility = eligibility
        self.fields["resolution"].choices = eligibility.resolutions
        for item in eligibility.items:
            if not item.eligible:
                continue
            prefix = f"item-{item.line_item.pk}"
            self.fields[f"{prefix}-selected"] = forms.BooleanField(label=f"Return {item.line_item.title}",
                                                                   required=False)  # fmt: skip
            self.fields[f"{prefix}-quantity"] = forms.TypedChoiceField(
                label="How many", choices=[(n, n) for n in range(1, item.returnable_quantity + 1)], coerce=int,
                initial=1, required=False,
            )  # fmt: skip
            self.fields[f"{prefix}-reason"] = forms.ChoiceField(
                label="Why are you returning it?", choices=[("", "Choose a reason"), *item.reasons], required=False
            )
            if item.exchange_options:
                self.fields[f"{prefix}-exchange"] = forms.TypedChoiceField(
                    label="Exchange for (if you choose an exchange)",
                    choices=[("", "Choose a variant"), *[(v.pk, v.title) for v in item.exchange_options]],
                    coerce=int, required=False, empty_value=None,
                )  # fmt: skip
            self.fields[f"{prefix}-photo"] = forms.FileField(
                label="Photo", required=False, help_text=self._photo_help(item),
                widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
            )  # fmt: skip
            self.fields[f"{prefix}-comment"] = forms.CharField(
                label="Anything we should know? (optional)", required=False, max_length=1000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )  # fmt: skip

    def _photo_help(self, item: ItemEligibility) -> str:
        needing = [label.lower() for value, label in item.reasons if self.eligibility.rules[value].photo_required]
        return f"Needed if it {' or '.join(needing)}." if needing else "Optional."

    @property
    def rows(self) -> list[ItemRow]:
        rows = []
        for item in self.eligibility.items:
            prefix = f"item-{item.line_item.pk}"
            bound = {name.rsplit("-", 1)[1]: self[name] for name in self.fields if name.startswith(prefix + "-")}
            rows.append(ItemRow(item, bound))
        return rows

    def clean(self) -> dict:
        data = super().clean()
        chosen = [i for i in self.eligibility.items if i.eligible and data.get(f"item-{i.line_item.pk}-selected")]
        if not chosen and not self.errors:
            raise ValidationError("Tick at least one item to return.")
        for item in chosen:
            prefix = f"item-{item.line_item.pk}"
            if not data.get(f"{prefix}-reason"):
                self.add_error(f"{prefix}-reason", "Choose a reason for this item.")
            if data.get("resolution") == "exchange" and not data.get(f"{prefix}-exchange"):
                self.add_error(f"{prefix}-selected", "Choose the variant you would like instead.")
        self.chosen = chosen
        return data

    def lines(self) -> list[ReturnLine]:
        return [
            ReturnLine(
                line_item_id=item.line_item.pk,
                quantity=self.cleaned_data.get(f"item-{item.line_item.pk}-quantity") or 1,
                reason=self.cleaned_data[f"item-{item.line_item.pk}-reason"],
                exchange_for_id=self.cleaned_data.get(f"item-{item.line_item.pk}-exchange"),
                comment=self.cleaned_data.get(f"item-{item.line_item.pk}-comment", ""),
                photo=self.cleaned_data.get(f"item-{item.line_item.pk}-photo") or None,
            )
            for item in self.chosen
        ]

    def add_service_errors(self, error: ValidationError) -> None:
        """Show the service's refusals next to the item (or the choice) they are about."""
        for key, messages in error.message_dict.items():
            field = f"{key}-selected" if f"{key}-selected" in self.fields else key
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
