"""`kill -9` of the RQ worker running a CSV import started in the admin: once its heartbeat is overdue, the
cron's recovery job queues the import again and a new worker finishes it; every order, line item, parcel
and tracking event exists once, and the report accounts for every order.

Real processes: `manage.py rqworker` subprocesses on the test's PostgreSQL database and Redis.
"""

from __future__ import annotations

import pytest
from django.db.models import Count, F

from cxhub.runs import RunState
from orders import imports
from orders.imports import order_import_start
from orders.models import LineItem, Order, OrderImport, Shipment, TrackingEvent
from tests.factories import StoreFactory
from tests.reliability.helpers import WorkerProcess, backfill_csv, cron_tick, wait_until, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = 600  # a few seconds of importing: the worker dies after its first progress report


def test_an_import_whose_worker_is_killed_is_finished_by_another_and_nothing_is_doubled(tmp_path):
    store = StoreFactory(slug="acme", country="US")
    run = order_import_start(store=store, file_name="backfill.csv", data=backfill_csv(ORDERS), user=None)
    env = worker_env()

    first = WorkerProcess(tmp_path / "worker-1.log", env).start()
    try:
        wait_until(lambda: _rows_done(run) > 0, timeout=60, what="the first progress report", poll=0.05)
        first.kill_9()
    finally:
        first.stop()
    run.refresh_from_db()
    assert run.state == RunState.RUNNING
    assert 0 < run.done < 2 * ORDERS, first.output()
    imported_before = Order.objects.count()

    # As if the lease had run out: the worker said nothing for longer than the imports' lease.
    OrderImport.objects.filter(pk=run.pk).update(heartbeat_at=F("heartbeat_at") - imports.IMPORTS.lease)
    cron_tick(only=["order_imports_recover_job"])
    WorkerProcess.burst(tmp_path / "worker-2.log", env, timeout=180)

    run.refresh_from_db()
    assert (run.state, run.attempts, run.rows_read, run.rows_rejected) == ("done", 2, 2 * ORDERS, 0)
    assert run.orders_created + run.orders_updated == ORDERS
    assert run.orders_updated >= imported_before > 0
    assert Order.objects.count() == ORDERS
    assert set(Order.objects.annotate(n=Count("line_items")).values_list("n", flat=True)) == {2}
    assert LineItem.objects.count() == 2 * ORDERS
    assert Shipment.objects.count() == ORDERS
    # A "label created" event for every parcel and a "delivered" one for every other parcel, once each.
    assert TrackingEvent.objects.count() == ORDERS + ORDERS // 2
    assert not Shipment.objects.annotate(n=Count("events")).filter(n__gt=2).exists()


def _rows_done(run: OrderImport) -> int:
    return OrderImport.objects.values_list("done", flat=True).get(pk=run.pk)
