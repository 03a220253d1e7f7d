"""What the KPIs need that no other app stores: per-store settings such as the cost of one ticket."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from orders.models import Store

from .constants import DEFAULT_COST_PER_TICKET


class KpiSettings(models.Model):
    """How a store values its KPIs. A store without a row uses the defaults."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="kpi_settings")
    cost_per_ticket = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=DEFAULT_COST_PER_TICKET,
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text="What one customer contact costs the store (agent time, tools), in the store's currency. "
        "The ROI estimate counts each ticket prevented at this price.",
    )

    class Meta:
        ordering = ["store"]
        verbose_name = "KPI settings"
        verbose_name_plural = "KPI settings"
        # A permission of its own, so an Analyst role can read the KPIs without editing these settings.
        permissions = [("view_kpis", "Can view the KPI dashboard and download its tables")]

    def __str__(self) -> str:
        return f"KPI settings of {self.store}"

    @property
    def currency(self) -> str:
        return self.store.currency
