"""What the KPI page draws: the report's figures as SVG charts (presentation only, no queries)."""

from __future__ import annotations

from django.utils.safestring import SafeString

from .charts import Bar, IntervalRow, bar_list_chart, column_chart, interval_chart
from .kpis import KpiReport

# (DailyRow attribute, what one bar counts)
DAILY_CHARTS = [
    ("orders", "Orders placed"),
    ("tickets", "Tickets"),
    ("wismo_tickets", '"Where is my order?" tickets'),
    ("messages_sent", "Proactive messages sent"),
    ("exceptions_opened", "Exceptions detected"),
]


def daily_charts(report: KpiReport) -> list[tuple[str, SafeString]]:
    """One column chart per daily series: (heading, svg)."""
    charts = []
    period = f"from {report.scope.since.isoformat()} to {report.scope.until.isoformat()}"
    for attribute, label in DAILY_CHARTS:
        values = [(row.day, getattr(row, attribute)) for row in report.daily]
        total = sum(n for _, n in values)
        busiest_day, busiest = max(values, key=lambda pair: pair[1], default=(None, 0))
        description = f"{label} per day {period}: {total:,} in total"
        description += f", at most {busiest:,} on {busiest_day.isoformat()}." if busiest else "."
        bars = [Bar(f"{day:%b} {day.day}", n, f"{day.isoformat()}: {n:,}") for day, n in values]
        chart = column_chart(
            chart_id=f"chart-{attribute}", title=f"{label} per day", description=description, bars=bars
        )
        charts.append((label, chart))
    return charts


def holdout_chart(report: KpiReport) -> SafeString | None:
    if not report.holdouts:
        return None
    rows = []
    for comparison in report.holdouts:
        interval = comparison.interval
        measured = not comparison.too_few_to_tell
        rows.append(
            IntervalRow(
                label=comparison.playbook,
                estimate=comparison.difference,
                low=interval.low if interval else None,
                high=interval.high if interval else None,
                measured=measured,
                note="" if measured else comparison.verdict,
            )
        )
    measured = [c for c in report.holdouts if not c.too_few_to_tell]
    description = (
        "Per playbook: holdout contact rate minus treated contact rate, in percentage points, with its 95% "
        "interval; right of zero means fewer contacts when the playbook acts. "
        f"{len(measured)} of {len(report.holdouts)} playbooks have enough orders to tell."
    )
    return interval_chart(
        chart_id="chart-holdout", title="Contacts prevented per playbook", description=description, rows=rows
    )


def csat_chart(report: KpiReport) -> SafeString:
    csat = report.csat
    ratings = range(5, 0, -1)
    bars = [Bar(f"{r} of 5", csat.by_rating[r], f"{csat.by_rating[r]:,} answers rated {r} of 5") for r in ratings]
    description = f"{csat.responses:,} answers: " + ", ".join(f"{csat.by_rating[r]} rated {r}" for r in ratings)
    return bar_list_chart(chart_id="chart-csat", title="Delivery ratings", description=description + ".", bars=bars)
