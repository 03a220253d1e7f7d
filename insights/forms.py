"""The dashboard's filters: one store or all, and a period of whole days (GET, so a view can be bookmarked)."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.http import QueryDict

from orders.models import Store

from .constants import DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS
from .kpis import KpiScope


class DayInput(forms.DateInput):
    """The browser's own date picker: no JavaScript of ours."""

    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class KpiFilterForm(forms.Form):
    store = forms.ModelChoiceField(
        queryset=Store.objects.order_by("name"), required=False, empty_label="All stores", to_field_name="slug"
    )
    since = forms.DateField(required=False, widget=DayInput(), label="From")
    until = forms.DateField(required=False, widget=DayInput(), label="To (included)")

    def clean(self) -> dict:
        cleaned = super().clean()
        default = KpiScope.last_days()
        until = cleaned.get("until") or default.until
        since = cleaned.get("since") or until - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if since > until:
            raise forms.ValidationError("The period must start on or before its last day.")
        if (until - since).days + 1 > MAX_PERIOD_DAYS:
            raise forms.ValidationError(f"Pick at most {MAX_PERIOD_DAYS} days.")
        cleaned.update(since=since, until=until)
        return cleaned

    @classmethod
    def from_query(cls, query: QueryDict) -> KpiFilterForm:
        """The form bound to the request's filters, with the default period written into any empty date so
        the page shows which days it counts (the last 30, today included)."""
        data = query.copy()
        default = KpiScope.last_days()
        if not data.get("until"):
            data["until"] = default.until.isoformat()
        if not data.get("since"):
            try:
                until = date.fromisoformat(data["until"])
            except ValueError:
                pass  # the form says what is wrong with it
            else:
                data["since"] = (until - timedelta(days=DEFAULT_PERIOD_DAYS - 1)).isoformat()
        return cls(data)

    def scope(self) -> KpiScope:
        """The scope the valid form describes (defaults filled in: the last 30 days, all stores)."""
        data = self.cleaned_data
        return KpiScope(since=data["since"], until=data["until"], store=data.get("store"))
