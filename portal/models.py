"""What customers tell the hub on their pages, and the answers CX managers give there before anyone asks."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from orders.models import Order, Store

from .choices import OrderSituation


class DeliveryFeedback(models.Model):
    """ "Did everything arrive OK?": one answer per order (a second answer replaces the first).
    The CSAT-after-delivery figure is computed from these."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="delivery_feedback")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="feedback_rating_1_to_5")
        ]
        indexes = [models.Index(fields=["created_at"], name="feedback_created")]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.order}"


class FaqEntry(models.Model):
    """A pre-emptive answer a CX manager writes: shown on the tracking page of orders in one of its
    situations ("When will my item ship?" while unfulfilled), so the customer need not ask."""

    store = models.ForeignKey(
        Store,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="faq_entries",
        help_text="Leave empty to show it on every store's tracking pages.",
    )
    question = models.CharField(max_length=200)
    answer = models.TextField(max_length=2000, help_text="Plain text. A blank line starts a new paragraph.")
    # A JSON list of OrderSituation values: a handful of fixed values read together with the entry, on
    # every database the hub supports (SQLite in the demo has no array type). clean() validates it.
    order_states = models.JSONField(
        "shown when",
        default=list,
        blank=True,
        help_text="The order situations in which the question is likely; it shows when any of them applies.",
    )
    position = models.PositiveSmallIntegerField(default=100, help_text="Lower numbers come first.")
    is_active = models.BooleanField("shown", default=True, help_text="Untick to hide it without deleting it.")
    # Set on the hub's defaults only, so seeding again never duplicates an entry a manager has edited.
    key = models.SlugField(max_length=60, blank=True, editable=False, db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"
        constraints = [models.UniqueConstraint(fields=["key"], condition=~models.Q(key=""), name="faq_unique_key")]
        indexes = [
            # The tracking page's lookup: a store's shown entries (and the global ones, store IS NULL), in order.
            models.Index(fields=["store", "position"], condition=models.Q(is_active=True), name="faq_shown_store")
        ]

    def __str__(self) -> str:
        return self.question

    def clean(self) -> None:
        states = self.order_states
        if not isinstance(states, list) or not states:
            raise ValidationError({"order_states": "Choose at least one situation."})
        unknown = [s for s in states if s not in OrderSituation.values]
        if unknown:
            raise ValidationError({"order_states": f"Unknown situation(s): {', '.join(map(str, unknown))}."})
        # One canonical form (choice order, no repeats), so equal selections are stored equally.
        self.order_states = [v for v in OrderSituation.values if v in states]

    @property
    def situation_labels(self) -> list[str]:
        labels = dict(OrderSituation.choices)
        states = self.order_states if isinstance(self.order_states, list) else []
        return [str(labels.get(v, v)) for v in states]
