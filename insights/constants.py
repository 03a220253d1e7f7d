"""The KPIs' fixed numbers, each with the reason it has that value."""

from decimal import Decimal

# A support ticket's all-in cost when the store has not set its own (KpiSettings.cost_per_ticket).
DEFAULT_COST_PER_TICKET = Decimal("5.00")

# The dashboard opens on the last 30 days (today included), like the admin's landing page.
DEFAULT_PERIOD_DAYS = 30
# One year at most: the daily charts stay readable and every query stays bounded.
MAX_PERIOD_DAYS = 366

# The holdout comparison says "too few orders to tell" below these: with fewer than 30 orders in a
# group, or fewer than 5 expected contacted / not-contacted orders in a cell of the 2x2 table (the usual
# rule for normal approximations of proportions), an interval would look precise while it is not.
MIN_ORDERS_PER_GROUP = 30
MIN_EXPECTED_COUNT = 5

# Two-sided 95% confidence: the standard normal's 97.5th percentile.
Z_95 = 1.959963984540054

# CSAT: ratings of 4 or 5 (out of 5) count as satisfied, the usual CSAT convention.
SATISFIED_RATING = 4
