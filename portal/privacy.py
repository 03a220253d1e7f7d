"""The personal data customers leave on their pages: what they wrote with their delivery rating (orders.privacy)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from orders.models import DataRequest
from orders.privacy import People, PersonalDataHolder

from .models import DeliveryFeedback


class FeedbackData(PersonalDataHolder):
    def copy(self, people: People) -> dict[str, Any]:
        feedback = people.of(DeliveryFeedback.objects.select_related("order")).order_by("created_at")
        return {
            "delivery_feedback": [
                {"order_number": f.order.order_number, "rating": f.rating, "comment": f.comment} for f in feedback
            ]
        }

    def erase(self, people: People, *, request: DataRequest) -> Counter:
        # The rating stays: it names no one, and the CSAT figure counts it.
        return +Counter(
            {"feedback comments": people.of(DeliveryFeedback.objects.exclude(comment="")).update(comment="")}
        )
