"""The KPI report as named tables: the dashboard shows them and the CSV downloads are the same rows.

Cells keep their raw values (fractions, timedeltas, Decimals); each column says how to show them, so
the page says "16.7%" where the CSV says 16.67 under "(%)", and a spreadsheet gets plain numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from .kpis import KpiReport

PERCENT, POINTS, COUNT, DECIMAL, MONEY, DURATION, TEXT, DAY = (
    "percent",
    "points",
    "count",
    "decimal",
    "money",
    "duration",
    "text",
    "day",
)
# Every table's slug, in page order: the CSV download URL names one of them.
TABLE_SLUGS = ("summary", "daily", "holdout", "roi", "automation", "csat", "repeat")
# What CSV headers add, so a bare number still says its unit.
CSV_UNITS = {PERCENT: " (%)", POINTS: " (percentage points)", DURATION: " (seconds)"}


@dataclass(frozen=True)
class Money:
    """A MONEY cell: shown as "185.95 USD", written to CSV as 185.95 (the table has a currency column)."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount:.2f} {self.currency}"


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT


@dataclass(frozen=True)
class KpiTable:
    slug: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]

    def display_rows(self) -> list[list[str]]:
        return [
            [display(value, column.kind) for value, column in zip(row, self.columns, strict=True)] for row in self.rows
        ]

    def html_rows(self) -> list[list[tuple[str, bool]]]:
        """(text, is a number) per cell: numbers are right-aligned on the page."""
        numeric = [is_number for _, is_number in self.html_header()]
        return [list(zip(row, numeric, strict=True)) for row in self.display_rows()]

    def html_header(self) -> list[tuple[str, bool]]:
        return [(column.label, column.kind not in (TEXT, DAY)) for column in self.columns]

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([column.label + CSV_UNITS.get(column.kind, "") for column in self.columns])
        for row in self.rows:
            writer.writerow([csv_value(value, column.kind) for value, column in zip(row, self.columns, strict=True)])
        return out.getvalue()


def display(value: Any, kind: str) -> str:
    """A cell as the page shows it; "—" when there is nothing to show."""
    if value is None:
        return "—"
    if kind == PERCENT:
        return f"{100 * value:.1f}%"
    if kind == POINTS:
        return f"{100 * value:+.1f} pts"
    if kind == DECIMAL:
        return f"{value:.2f}"
    if kind == COUNT:
        return f"{value:,}"
    if kind == DURATION:
        return human_duration(value)
    if kind == DAY:
        return value.isoformat()
    if kind == MONEY and not isinstance(value, Money):
        return f"{value:.2f}"
    return str(value)


def csv_value(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind in (PERCENT, POINTS):
        return f"{100 * value:.2f}"
    if kind == DECIMAL:
        return f"{value:.2f}"
    if kind == MONEY:
        return f"{value.amount if isinstance(value, Money) else value:.2f}"
    if kind == DURATION:
        return f"{value.total_seconds():.1f}"
    if kind == DAY:
        return value.isoformat()
    if kind == TEXT:
        return csv_safe_text(str(value))
    return str(value)


def csv_safe_text(text: str) -> str:
    """Store and playbook names come from people: a leading =, +, - or @ would run as a formula in a
    spreadsheet (CSV injection), so such a cell is quoted with an apostrophe. Plain numbers stay numbers."""
    if text[:1] not in ("=", "+", "-", "@", "\t", "\r"):
        return text
    try:
        float(text)
    except ValueError:
        return "'" + text
    return text


def human_duration(value: timedelta) -> str:
    seconds = round(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _money(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else str(Money(amount, currency))


def kpi_tables(report: KpiReport) -> dict[str, KpiTable]:
    """Every table of the dashboard, by slug (the CSV download's name)."""
    tables = [
        _summary(report),
        _daily(report),
        _holdouts(report),
        _roi(report),
        _automation(report),
        _csat(report),
        _repeat(report),
    ]
    return {table.slug: table for table in tables}


def _summary(report: KpiReport) -> KpiTable:
    contacts, ttn, automation, csat, repeat = (
        report.contacts,
        report.time_to_notify,
        report.automation,
        report.csat,
        report.repeat,
    )
    prevented = report.tickets_prevented
    rows = [
        ["Contact rate per order", _pct(contacts.rate), f"{contacts.tickets_with_order} tickets about an order / "
         f"{contacts.orders} orders placed"],
        ["WISMO (where is my order?) share of tickets", _pct(contacts.wismo_share),
         f"{contacts.wismo_tickets} of {contacts.tickets} tickets"],
        ["Time to notify, median", display(ttn.p50, DURATION), f"{ttn.messages} proactive messages sent"],
        ["Time to notify, 90th percentile", display(ttn.p90, DURATION), f"{ttn.messages} proactive messages sent"],
        ["Tickets prevented (measured against holdouts)",
         "Too few orders to tell" if prevented is None else f"{prevented:.1f}",
         f"{sum(1 for c in report.holdouts if c.tickets_prevented is not None)} of {len(report.holdouts)} "
         "playbooks measured"],
        ["Automation resolution rate", _pct(automation.rate),
         f"{automation.closed_without_person} of {automation.closed} closed exceptions closed without a person"],
        ["CSAT after delivery (4-5 of 5)", _pct(csat.satisfied_share),
         f"{csat.satisfied} of {csat.responses} answers; mean "
         f"{'—' if csat.mean_rating is None else f'{csat.mean_rating:.2f}'} of 5"],
        ["Repeat purchase, proactively notified customers", _pct(repeat.notified_rate),
         f"{repeat.notified_repeat} of {repeat.notified_customers} customers"],
        ["Repeat purchase, other customers", _pct(repeat.other_rate),
         f"{repeat.other_repeat} of {repeat.other_customers} customers"],
    ]  # fmt: skip
    for estimate in report.roi:
        roi = _money(estimate.roi, estimate.currency)
        rows.append(
            [f"ROI estimate, {estimate.store.name}", roi or "Too few orders to tell",
             f"tickets prevented x {_money(estimate.cost_per_ticket, estimate.currency)} - "
             f"{_money(estimate.compensation, estimate.currency)} compensation paid"]
        )  # fmt: skip
    return KpiTable("summary", "Key figures", [Column("KPI"), Column("Value"), Column("Based on")], rows)


def _pct(value: float | None) -> str:
    return display(value, PERCENT)


def _daily(report: KpiReport) -> KpiTable:
    columns = [
        Column("Day", DAY),
        Column("Orders placed", COUNT),
        Column("Tickets", COUNT),
        Column("WISMO tickets", COUNT),
        Column("Proactive messages sent", COUNT),
        Column("Exceptions detected", COUNT),
    ]
    rows = [
        [row.day, row.orders, row.tickets, row.wismo_tickets, row.messages_sent, row.exceptions_opened]
        for row in report.daily
    ]
    return KpiTable("daily", "Day by day", columns, rows)


def _holdouts(report: KpiReport) -> KpiTable:
    columns = [
        Column("Playbook"),
        Column("Treated orders", COUNT),
        Column("Treated contacted", COUNT),
        Column("Treated contact rate", PERCENT),
        Column("Holdout orders", COUNT),
        Column("Holdout contacted", COUNT),
        Column("Holdout contact rate", PERCENT),
        Column("Difference (holdout - treated)", POINTS),
        Column("95% interval low", POINTS),
        Column("95% interval high", POINTS),
        Column("Tickets prevented", DECIMAL),
        Column("Verdict"),
    ]
    rows = []
    for c in report.holdouts:
        interval = c.interval
        rows.append(
            [c.playbook, c.treated_orders, c.treated_contacted, c.treated_rate, c.holdout_orders, c.holdout_contacted,
             c.holdout_rate, c.difference, interval.low if interval else None, interval.high if interval else None,
             c.tickets_prevented, c.verdict]
        )  # fmt: skip
    return KpiTable("holdout", "Tickets prevented: each playbook against its holdout", columns, rows)


def _roi(report: KpiReport) -> KpiTable:
    columns = [
        Column("Store"),
        Column("Currency"),
        Column("Cost per ticket"),
        Column("Tickets prevented", DECIMAL),
        Column("Tickets prevented low", DECIMAL),
        Column("Tickets prevented high", DECIMAL),
        Column("Support cost saved", MONEY),
        Column("Compensation paid", MONEY),
        Column("ROI estimate", MONEY),
        Column("ROI low", MONEY),
        Column("ROI high", MONEY),
        Column("Paid in other currencies (not subtracted)"),
    ]
    rows = []
    for e in report.roi:
        interval, roi_interval = e.tickets_prevented_interval, e.roi_interval

        def money(amount: Decimal | None, currency: str = e.currency) -> Money | None:
            return None if amount is None else Money(amount, currency)

        rows.append(
            [e.store.name, e.currency, f"{e.cost_per_ticket:.2f}{' (default)' if e.cost_is_default else ''}",
             e.tickets_prevented, interval.low if interval else None, interval.high if interval else None,
             money(e.savings), money(e.compensation), money(e.roi), money(roi_interval[0] if roi_interval else None),
             money(roi_interval[1] if roi_interval else None),
             ", ".join(_money(amount, currency) for currency, amount in e.other_currencies.items())]
        )  # fmt: skip
    return KpiTable("roi", "ROI estimate per store", columns, rows)


def _automation(report: KpiReport) -> KpiTable:
    a = report.automation
    rows = [
        ["Problem exceptions detected", a.exceptions],
        ["Closed (resolved or dismissed)", a.closed],
        ["Closed without a person", a.closed_without_person],
        ["Escalated, waiting for a person", a.waiting_for_person],
    ]
    return KpiTable("automation", "Automation resolution", [Column("Exceptions"), Column("Count", COUNT)], rows)


def _csat(report: KpiReport) -> KpiTable:
    rows = [[f"{rating} of 5", report.csat.by_rating[rating]] for rating in range(5, 0, -1)]
    columns = [Column("Rating"), Column("Answers", COUNT)]
    return KpiTable("csat", "CSAT after delivery: answers by rating", columns, rows)


def _repeat(report: KpiReport) -> KpiTable:
    r = report.repeat
    columns = [Column("Customers"), Column("Customers", COUNT), Column("Ordered again", COUNT), Column("Rate", PERCENT)]
    rows = [
        ["Proactively notified", r.notified_customers, r.notified_repeat, r.notified_rate],
        ["The rest", r.other_customers, r.other_repeat, r.other_rate],
    ]
    return KpiTable("repeat", "Repeat purchase", columns, rows)
