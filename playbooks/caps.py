"""Compensation caps: may this amount be paid without a person?

Every money decision consults the store's cap for the action: the amount itself, what this customer
received in the last 30 days, and what the store paid today, with the VIP multiplier. Decisions for
one (store, action) are serialised by locking its cap row, so two workers cannot both spend the last
of a budget. A store with no cap for an action pays nothing automatically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Sum

from .actions import ACTIONS
from .choices import RemedyState
from .models import CompensationCap, ExceptionCase, Remedy

# How far before a sandbox run's period its ledger reads real spend: the caps' longest window (30 days
# per customer) plus a day, for a store whose day starts before the period does.
HISTORY_READ = timedelta(days=31)
# Remedies that count as money committed: approved (about to run), running, or done.
COMMITTED = [RemedyState.APPROVED, RemedyState.EXECUTING, RemedyState.DONE]


@dataclass
class CapCheck:
    allowed: bool
    exceeded: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


class Ledger:
    """What has been committed so far: the database's remedies, plus the remedies planned through this
    ledger and not written yet (a batch of live plans is written at its end; the sandbox never writes)."""

    def __init__(self) -> None:
        self.planned: list[tuple[int, int | None, str, datetime, Decimal]] = []

    def spent_by_customer(self, *, case: ExceptionCase, action: str, since: datetime) -> Decimal:
        customer = case.order.customer_id
        if customer is None:
            return Decimal("0")
        real = self._real_spent(case.store_id, action, since, customer=customer)
        return real + sum(
            (a for _, c, act, at, a in self.planned if c == customer and act == action and at >= since), Decimal(0)
        )

    def spent_by_store(self, *, case: ExceptionCase, action: str, since: datetime) -> Decimal:
        real = self._real_spent(case.store_id, action, since)
        return real + sum(
            (a for s, _, act, at, a in self.planned if s == case.store_id and act == action and at >= since),
            Decimal(0),
        )

    def cap(self, *, store_id: int, action: str) -> CompensationCap | None:
        """The cap as it is now: live money decisions read it afresh each time, under its lock."""
        return CompensationCap.objects.filter(store_id=store_id, action=action).first()

    def commit(self, *, case: ExceptionCase, action: str, amount: Decimal, at: datetime) -> None:
        self.planned.append((case.store_id, case.order.customer_id, action, at, amount))

    def _real_spent(self, store_id: int, action: str, since: datetime, *, customer: int | None = None) -> Decimal:
        """What the database's remedies committed for `action` in the store (or to one of its customers) since
        `since`."""
        remedies = Remedy.objects.filter(action=action, created_at__gte=since)
        # A customer belongs to one store, so their remedies are that store's.
        remedies = (
            remedies.filter(case__order__customer_id=customer)
            if customer is not None
            else remedies.filter(case__store_id=store_id)
        )
        return remedies.filter(state__in=COMMITTED).aggregate(total=Sum("amount"))["total"] or Decimal("0")


class SimulatedLedger(Ledger):
    """The sandbox's ledger: real spend from before the simulated period, plus what it simulated."""

    def __init__(self, before: datetime) -> None:
        super().__init__()
        self.before = before
        self.caps: dict[tuple[int, str], CompensationCap | None] = {}
        self.history: dict[tuple[int, str], list[tuple[int | None, datetime, Decimal]]] = {}

    def cap(self, *, store_id: int, action: str) -> CompensationCap | None:
        """Read once per run: a sandbox run takes the caps as they were when it started."""
        if (store_id, action) not in self.caps:
            self.caps[store_id, action] = super().cap(store_id=store_id, action=action)
        return self.caps[store_id, action]

    def _real_spent(self, store_id: int, action: str, since: datetime, *, customer: int | None = None) -> Decimal:
        """Real spend before the simulated period, summed from the remedies of the month before it, read once
        per store and action: every window a cap looks back over (30 days, the day) starts in that month."""
        if (store_id, action) not in self.history:
            self.history[store_id, action] = list(
                Remedy.objects.filter(
                    action=action,
                    case__store_id=store_id,
                    state__in=COMMITTED,
                    created_at__gte=self.before - HISTORY_READ,
                    created_at__lt=self.before,
                ).values_list("case__order__customer_id", "created_at", "amount")
            )
        return sum(
            (
                amount
                for spender, at, amount in self.history[store_id, action]
                if at >= since and (customer is None or spender == customer)
            ),
            Decimal(0),
        )


def start_of_day(at: datetime, tz: str) -> datetime:
    local = at.astimezone(ZoneInfo(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def cap_check(*, case: ExceptionCase, action: str, amount: Decimal, at: datetime, ledger: Ledger) -> CapCheck:
    """Whether `amount` for `action` on `case` is within every cap, with the arithmetic for the audit."""
    if not ACTIONS[action].costs_money or amount <= 0:
        return CapCheck(True, details={"reason": "costs nothing"})
    cap = ledger.cap(store_id=case.store_id, action=action)
    if cap is None:
        return CapCheck(False, ["no_cap"], {"reason": f"no compensation cap is set for {action}: a person decides"})
    vip = bool(case.order.customer and case.order.customer.is_vip)
    multiplier = cap.vip_multiplier if vip else Decimal("1")
    max_auto = cap.max_auto_amount * multiplier
    per_customer = cap.max_per_customer_30d * multiplier
    customer_spent = ledger.spent_by_customer(case=case, action=action, since=at - timedelta(days=30))
    store_spent = ledger.spent_by_store(case=case, action=action, since=start_of_day(at, case.store.timezone))
    exceeded = []
    if amount > max_auto:
        exceeded.append("max_auto_amount")
    if customer_spent + amount > per_customer:
        exceeded.append("max_per_customer_30d")
    if store_spent + amount > cap.daily_budget:
        exceeded.append("daily_budget")
    details = {
        "amount": amount,
        "vip": vip,
        "vip_multiplier": multiplier,
        "max_auto_amount": max_auto,
        "customer_spent_30d": customer_spent,
        "max_per_customer_30d": per_customer,
        "store_spent_today": store_spent,
        "daily_budget": cap.daily_budget,
    }
    return CapCheck(not exceeded, exceeded, details)


def lock_cap(*, store_id: int, action: str) -> None:
    """Serialise money decisions for one store and action (call inside a transaction)."""
    list(CompensationCap.objects.select_for_update().filter(store_id=store_id, action=action).values_list("pk"))
