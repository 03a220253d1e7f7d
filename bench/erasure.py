"""Erasing customers' personal data (orders.privacy): one customer at a time, as the admin, the REST API and
Shopify's customers/redact do, and a whole store, as shop/redact does.

It runs last: it erases customers the other benchmarks read. One store's sample is erased one by one (the
raw webhooks the ingestion benchmark stored are searched for each), then the last store is erased whole.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from .common import log, percentile, target, write_result
from .context import Context

SAMPLE = 100  # customers erased one by one


def run(ctx: Context) -> dict[str, Any]:
    from orders.choices import DataRequestKind, EventSource
    from orders.models import Customer, DataRequest, InboundDelivery, Order, Store
    from orders.privacy import deliveries_scrub, personal_data_erase, store_erasure_run

    stores = list(Store.objects.filter(slug__startswith="bench-").order_by("pk"))
    one_by_one, whole = stores[0], stores[-1]
    ids = list(Customer.objects.filter(store=one_by_one).values_list("pk", flat=True))
    sample = random.Random(7).sample(ids, min(SAMPLE, len(ids)))
    deliveries = InboundDelivery.objects.filter(store=one_by_one).count()
    log(f"erasure: {len(sample)} customers one by one ({deliveries:,} raw webhooks of their store to search)…")
    times, queries = [], []
    for pk in sample:
        customer = Customer.objects.select_related("store").get(pk=pk)
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            personal_data_erase(store=customer.store, customers=[customer], source=EventSource.API)
            times.append((time.perf_counter() - started) * 1000)
        queries.append(len(captured))
    # The job each erasure queues: reading every raw webhook the store keeps for the customer's email, phone
    # and street (a search that finds nothing reads them all, as one that finds a few does).
    started = time.perf_counter()
    deliveries_scrub(one_by_one.pk, ["nobody@example.invalid", "+15550000000", "1 Nowhere Street"])
    search_ms = (time.perf_counter() - started) * 1000
    one = {
        "customers": len(sample),
        "store_deliveries": deliveries,
        "webhook_search_ms": round(search_ms, 1),
        "webhook_search_us_each": round(search_ms * 1000 / deliveries, 1) if deliveries else None,
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(percentile(times, 99), 1),
        "max_ms": round(max(times), 1),
        "queries_p50": statistics.median(queries),
    }
    log(
        f"erasure: one customer p50 {one['p50_ms']} ms, p99 {one['p99_ms']} ms, {one['queries_p50']} queries; "
        f"its job's search of {deliveries:,} raw webhooks {one['webhook_search_ms']} ms"
    )

    customers = Customer.objects.filter(store=whole).count()
    orders = Order.objects.filter(store=whole).count()
    whole_deliveries = InboundDelivery.objects.filter(store=whole).count()
    sizes = f"{customers:,} customers, {orders:,} orders, {whole_deliveries:,} raw webhooks"
    log(f"erasure: the whole of {whole.slug} ({sizes})…")
    request = DataRequest.objects.create(store=whole, kind=DataRequestKind.ERASURE, source=EventSource.SHOPIFY)
    started = time.perf_counter()
    store_erasure_run(request.pk)
    seconds = time.perf_counter() - started
    store = {
        "customers": customers,
        "orders": orders,
        "deliveries": whole_deliveries,
        "seconds": round(seconds, 1),
        "customers_per_s": round(customers / seconds, 1) if seconds else None,
        "outcome": DataRequest.objects.get(pk=request.pk).outcome,
    }
    log(f"erasure: {customers:,} customers in {store['seconds']} s ({store['customers_per_s']}/s)")

    figures = {"one_customer": one, "whole_store": store}
    targets = {
        "one_customer_p99_under_1s": target("one customer's erasure: p99 under 1000 ms", one["p99_ms"], 1000),
        "whole_store_rate": target(
            "a whole store's erasure: at least 100 customers a second", store["customers_per_s"], 100, at_least=True
        ),
    }
    write_result("erasure", ctx.scale, figures, targets=targets, config=ctx.config())
    return figures
