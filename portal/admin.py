from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import linebreaks_filter
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from orders.admin import ReadOnlyAdmin

from .choices import OrderSituation
from .models import DeliveryFeedback, FaqEntry


@admin.register(DeliveryFeedback)
class DeliveryFeedbackAdmin(ReadOnlyAdmin):
    """What customers answered to "Did everything arrive OK?" (the CSAT-after-delivery figure)."""

    list_display = ("created_at", "order", "rating", "comment")
    list_filter = ("rating", "order__store")
    search_fields = ("=order__order_number", "comment")
    list_select_related = ("order",)
    date_hierarchy = "created_at"


class FaqEntryForm(forms.ModelForm):
    # The model keeps a JSON list; managers tick situations instead of typing one.
    order_states = forms.MultipleChoiceField(
        label="Shown when",
        choices=OrderSituation.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Shown on the tracking page of an order in any of the ticked situations.",
    )

    class Meta:
        model = FaqEntry
        fields = ("store", "question", "answer", "order_states", "position", "is_active")
        widgets = {"answer": forms.Textarea(attrs={"rows": 6})}


class SituationFilter(admin.SimpleListFilter):
    title = "shown when"
    parameter_name = "situation"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return OrderSituation.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[FaqEntry]) -> QuerySet[FaqEntry]:
        if self.value() not in OrderSituation.values:
            return queryset
        # The quoted value as text: portable across databases (SQLite has no JSON containment), and no
        # situation's quoted value is part of another's.
        return queryset.filter(order_states__icontains=f'"{self.value()}"')


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    """Pre-emptive answers on the customer tracking page, each shown in the order situations it helps in."""

    form = FaqEntryForm
    list_display = ("question", "store_or_every", "shown_when", "position", "is_active")
    list_display_links = ("question",)
    list_editable = ("position", "is_active")
    list_filter = ("is_active", SituationFilter, ("store", admin.EmptyFieldListFilter), "store")
    list_select_related = ("store",)
    search_fields = ("question", "answer")
    ordering = ("position", "id")
    readonly_fields = ("preview",)
    fieldsets = (
        (None, {"fields": ("store", "question", "answer")}),
        ("Where it shows", {"fields": ("order_states", "position", "is_active", "preview")}),
    )

    @admin.display(description="store", ordering="store__name")
    def store_or_every(self, entry: FaqEntry) -> str:
        return entry.store.name if entry.store else "Every store"

    @admin.display(description="shown when")
    def shown_when(self, entry: FaqEntry) -> str:
        return ", ".join(entry.situation_labels) or "—"

    @admin.display(description="preview")
    def preview(self, entry: FaqEntry) -> SafeString:
        """Where the saved entry shows and how it reads there (the customer sees the question, then opens it)."""
        if not entry.pk:
            return format_html("{}", "Save to see where it shows and how it reads.")
        where = f"{entry.store.name}'s" if entry.store else "every store's"
        if not entry.is_active:
            sentence = "Hidden: not shown on any tracking page."
        else:
            sentence = f"Shown on {where} tracking pages, under “Questions you may have”, for orders that are:"
        situations = format_html_join("", "<li>{}</li>", ((label,) for label in entry.situation_labels))
        return format_html(
            '<p>{}</p><ul>{}</ul><details open style="max-width:40rem"><summary><strong>{}</strong></summary>'
            "{}</details>",
            sentence,
            situations,
            entry.question,
            linebreaks_filter(entry.answer),  # escapes, then marks the <p>/<br> it adds safe
        )
