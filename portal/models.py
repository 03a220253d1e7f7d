"""What customers tell the hub on their pages."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from orders.models import Order


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
