"""CSV imports in the admin: the upload is checked and queued, a real RQ worker imports it, and the import's
page shows its progress and then its report; a failed import runs again, one whose worker died is taken up
again, and an attempt presumed dead cannot write over the one that replaced it."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from cxhub import runs
from cxhub.roles import ANALYST, CX_MANAGER, roles_setup
from cxhub.runs import Progress, RunState, Superseded
from orders import imports
from orders.csv_import import orders_import_csv
from orders.imports import IMPORTS, order_import_run, order_import_start, order_imports_recover
from orders.models import LineItem, Order, OrderImport, Shipment
from tests.factories import StoreFactory
from tests.reliability.helpers import cron_tick

pytestmark = pytest.mark.django_db

SAMPLE = Path(settings.BASE_DIR) / "orders" / "samples" / "orders.csv"
UPLOAD_URL = "/admin/orders/order/import/"
NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def store():
    return StoreFactory(slug="acme", country="US", timezone="America/New_York", currency="USD")


def csv_file(*lines: str, name: str = "orders.csv") -> SimpleUploadedFile:
    text = "order_number,placed_at,title,quantity\n" + "".join(line + "\n" for line in lines)
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def upload(client, store, file: SimpleUploadedFile):
    return client.post(UPLOAD_URL, {"store": store.pk, "file": file})


def page_of(run: OrderImport) -> str:
    return reverse("admin:orders_orderimport_change", args=[run.pk])


def user_with(*permissions: str, groups: tuple[str, ...] = ()) -> User:
    user = User.objects.create_user("someone", password="pw", is_staff=True)
    for name in permissions:
        app, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=app))
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


# --- Upload -------------------------------------------------------------------------------------------------------


def test_the_upload_page_shows_the_form_and_the_latest_imports(admin_client, admin_user, store):
    earlier = order_import_start(store=store, file_name="october.csv", data=SAMPLE.read_bytes(), user=admin_user)

    page = admin_client.get(UPLOAD_URL).content.decode()

    assert "csrfmiddlewaretoken" in page
    assert 'enctype="multipart/form-data"' in page
    assert f'<option value="{store.pk}" selected>' in page
    assert f'<a href="{page_of(earlier)}">october.csv</a>' in page
    assert "Queued (0%)" in page


def test_an_upload_is_queued_and_its_page_follows_it_until_a_worker_has_imported_it(
    admin_client, admin_user, store, run_jobs
):
    response = upload(admin_client, store, SimpleUploadedFile("orders.csv", SAMPLE.read_bytes()))

    run = OrderImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == page_of(run)
    assert (run.state, run.total, run.uploaded_by, run.file_name) == ("queued", 9, admin_user, "orders.csv")
    assert Order.objects.count() == 0  # the request only checked and stored the file
    waiting = admin_client.get(page_of(run)).content.decode()
    assert "Waiting for a worker…" in waiting
    assert reverse("admin:orders_orderimport_progress", args=[run.pk]) in waiting

    assert run_jobs() == 1

    run.refresh_from_db()
    assert (run.state, run.done, run.rows_read, run.orders_created, run.orders_updated) == ("done", 9, 9, 6, 0)
    assert run.content == ""  # the orders hold what the file said; the copy is not kept
    assert Order.objects.filter(store=store).count() == 6
    report = admin_client.get(page_of(run)).content.decode()
    assert "Import report" in report
    assert "Every row was imported." in report
    assert '<div class="figure">6</div><div class="label">Orders created</div>' in report
    assert '<progress id="run-progress"' not in report


def test_the_report_lists_the_rejected_rows(admin_client, store, run_jobs):
    upload(admin_client, store, csv_file("3001,2026-11-01,Mug,1", "3002,2026-11-01,Mug,0"))
    run_jobs()

    run = OrderImport.objects.get()
    assert (run.rows_read, run.orders_created, run.rows_rejected, run.orders_rejected) == (2, 1, 1, 1)
    assert run.errors == [
        {"row": 3, "order_number": "3002", "column": "quantity", "message": "must be at least 1 (is 0)"}
    ]
    page = admin_client.get(page_of(run)).content.decode()
    assert "Some rows were not imported" in page
    assert "<td>3</td><td>3002</td><td><code>quantity</code></td><td>must be at least 1 (is 0)</td>" in page


def test_the_report_keeps_the_first_rejected_rows_and_counts_the_rest(admin_client, store, run_jobs, monkeypatch):
    monkeypatch.setattr(imports, "ERRORS_KEPT", 2)
    upload(admin_client, store, csv_file(*(f"{n},yesterday,Mug,1" for n in range(5))))
    run_jobs()

    run = OrderImport.objects.get()
    assert (len(run.errors), run.errors_total, run.rows_rejected) == (2, 5, 5)
    assert "… and 3 more (the first 2 are kept)" in admin_client.get(page_of(run)).content.decode()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"order_number,placed_at,title,colour\n", "unknown columns: colour. Nothing was imported."),
        (b"", "The submitted file is empty."),
        (b"\n\n", "the file is empty: the first line must be the header row. Nothing was imported."),
        (
            "order_number,placed_at,title\n1,2026-11-01,Mug\n2,2026-11-01,Caf\xe9\n".encode("latin-1"),
            "not readable as UTF-8 CSV (line 3, column title: byte 0xe9 is not UTF-8",
        ),
        (b"order_number,placed_at,title\n1,2026-11-01,M\x00ug\n", "the file holds NUL characters"),
    ],
    ids=["header", "empty", "blank", "encoding", "nul"],
)
def test_a_file_the_importer_would_refuse_is_a_form_error_and_nothing_is_stored(admin_client, store, content, message):
    response = upload(admin_client, store, SimpleUploadedFile("orders.csv", content))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert OrderImport.objects.count() == 0
    assert Order.objects.count() == 0


def test_an_upload_without_a_file_or_store_is_a_form_error(admin_client, store):
    response = admin_client.post(UPLOAD_URL, {"store": store.pk})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert OrderImport.objects.count() == 0


def test_a_bom_and_windows_line_ends_are_read_like_the_command_reads_them(store, run_jobs):
    data = '\ufefforder_number,placed_at,title\r\n3001,2026-11-01,"Mug,\r\nlarge"\r\n'.encode()

    run = order_import_start(store=store, file_name="excel.csv", data=data, user=None)
    run_jobs()

    run.refresh_from_db()
    assert (run.state, run.total, run.orders_created) == ("done", 1, 1)
    assert LineItem.objects.get().title == "Mug,\r\nlarge"


# --- Who may do what ----------------------------------------------------------------------------------------------


def test_importing_needs_the_add_order_permission(client, store):
    client.force_login(user_with("orders.view_orderimport"))

    assert client.get(UPLOAD_URL).status_code == 403
    assert upload(client, store, SimpleUploadedFile("orders.csv", SAMPLE.read_bytes())).status_code == 403
    assert OrderImport.objects.count() == 0
    assert "Import CSV" not in client.get(reverse("admin:orders_orderimport_changelist")).content.decode()


def test_managers_and_analysts_see_imports_and_their_progress_but_cannot_run_them_again(client, store):
    roles_setup()
    run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)
    OrderImport.objects.filter(pk=run.pk).update(state=RunState.FAILED, failure="OperationalError: gone")
    progress = reverse("admin:orders_orderimport_progress", args=[run.pk])
    retry = reverse("admin:orders_orderimport_retry", args=[run.pk])

    client.force_login(user_with(groups=(CX_MANAGER,)))
    assert client.get(reverse("admin:orders_orderimport_changelist")).status_code == 200
    page = client.get(page_of(run)).content.decode()
    assert "This CSV import stopped: OperationalError: gone." in page
    assert "Run it again" not in page
    assert client.get(progress).json()["state"] == "failed"
    assert client.post(retry).status_code == 403

    client.force_login(User.objects.create_user("analyst", password="pw", is_staff=True))
    assert client.get(page_of(run)).status_code == 403
    assert client.get(progress).status_code == 403
    User.objects.get(username="analyst").groups.add(Group.objects.get(name=ANALYST))
    assert client.get(page_of(run)).status_code == 403  # analysts see casework and configuration, not plumbing

    assert OrderImport.objects.get().state == "failed"


def test_imports_are_never_edited_or_added_by_hand(admin_client, store):
    run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)

    assert admin_client.get(reverse("admin:orders_orderimport_add")).status_code == 403
    assert admin_client.post(page_of(run), {"file_name": "other.csv"}).status_code == 200  # the page, no form
    assert OrderImport.objects.get().file_name == "orders.csv"
    changelist = admin_client.get(reverse("admin:orders_orderimport_changelist")).content.decode()
    assert f'<a href="{UPLOAD_URL}" class="addlink">Import CSV</a>' in changelist


def test_an_unknown_import_is_a_404(admin_client):
    assert admin_client.get("/admin/orders/orderimport/999/change/").status_code == 404
    assert admin_client.get("/admin/orders/orderimport/999/progress/").status_code == 404


def test_the_order_list_has_an_import_button(admin_client):
    response = admin_client.get(reverse("admin:orders_order_changelist"))

    assert f'<a href="{UPLOAD_URL}" class="addlink">Import CSV</a>' in response.content.decode()


# --- Progress, failure, recovery ----------------------------------------------------------------------------------


def test_progress_is_written_as_the_worker_goes_and_polled_as_json(admin_client, store, monkeypatch):
    monkeypatch.setattr(runs, "HEARTBEAT_EVERY", dt.timedelta(0))
    written = []
    real_update = Progress.add

    def watch(progress, rows):
        real_update(progress, rows)
        written.append(OrderImport.objects.values_list("done", flat=True).get())

    monkeypatch.setattr(Progress, "add", watch)
    run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)

    order_import_run(run.pk)

    assert len(written) == 6  # a write after each of the six orders (all due: no time between writes)
    assert written == sorted(written) and written[-1] == 9
    progress = admin_client.get(reverse("admin:orders_orderimport_progress", args=[run.pk])).json()
    assert progress == {
        "state": "done", "state_label": "Done", "done": 9, "total": 9, "percent": 100,
        "text": "9 of 9 rows (100%)", "finished": True,
    }  # fmt: skip


def test_a_running_import_shows_its_rows_done(admin_client, store):
    run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)
    OrderImport.objects.filter(pk=run.pk).update(state=RunState.RUNNING, done=3)

    page = admin_client.get(page_of(run)).content.decode()

    assert "3 of 9 rows (33%)" in page
    assert '<progress id="run-progress" max="100" value="33">' in page


def test_an_import_that_fails_keeps_its_file_and_runs_again(admin_client, store, run_jobs, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(imports, "orders_import_csv", broken)
    upload(admin_client, store, SimpleUploadedFile("orders.csv", SAMPLE.read_bytes()))
    run_jobs()
    run = OrderImport.objects.get()
    assert (run.state, run.failure) == ("failed", "RuntimeError: the disk is full")
    assert run.content  # kept for the retry
    assert "Run it again" in admin_client.get(page_of(run)).content.decode()

    monkeypatch.undo()
    response = admin_client.post(reverse("admin:orders_orderimport_retry", args=[run.pk]))
    run_jobs()

    assert response["Location"] == page_of(run)
    run.refresh_from_db()
    assert (run.state, run.failure, run.orders_created, run.attempts) == ("done", "", 6, 2)
    assert admin_client.post(reverse("admin:orders_orderimport_retry", args=[run.pk])).status_code == 302
    assert OrderImport.objects.get().state == "done"  # only a failed import runs again
    assert admin_client.get(reverse("admin:orders_orderimport_retry", args=[run.pk])).status_code == 405


def test_an_import_whose_worker_died_is_taken_up_again_and_counts_what_it_did_as_updated(admin_client, store, run_jobs):
    with time_machine.travel(NOW, tick=False):
        run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)
        connection.run_on_commit.clear()  # a worker took the job ...
        IMPORTS.claim(run.pk)
        with SAMPLE.open(encoding="utf-8-sig", newline="") as file:
            orders_import_csv(store=store, file=file)  # ... imported every order and died before saying so
        assert order_imports_recover() == 0  # its heartbeat is fresh

    with time_machine.travel(NOW + IMPORTS.lease + dt.timedelta(seconds=1), tick=False):
        cron_tick(only=["order_imports_recover_job"])  # the cron's recovery job, every 5 minutes
        run_jobs()

    run.refresh_from_db()
    assert (run.state, run.attempts, run.orders_created, run.orders_updated) == ("done", 2, 0, 6)
    assert Order.objects.count() == 6
    assert Shipment.objects.count() == 3  # once each
    assert "Taken up again after its worker stopped (2 attempts)" in admin_client.get(page_of(run)).content.decode()


def test_a_queued_import_whose_job_was_lost_is_queued_again(store, run_jobs):
    with time_machine.travel(NOW, tick=False):
        run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)
        connection.run_on_commit.clear()  # its job never reaches a worker: Redis restarted empty
        assert run_jobs() == 0
        assert order_imports_recover() == 0  # a queued import may wait behind others a while
    with time_machine.travel(NOW + runs.QUEUED_GRACE + dt.timedelta(seconds=1), tick=False):
        assert order_imports_recover() == 1
        run_jobs()

    assert OrderImport.objects.get(pk=run.pk).state == "done"


def test_an_attempt_presumed_dead_stops_at_its_next_progress_and_writes_nothing(store):
    with time_machine.travel(NOW, tick=False):
        run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)
        first = IMPORTS.claim(run.pk)
    with time_machine.travel(NOW + IMPORTS.lease + dt.timedelta(seconds=1), tick=False):
        second = IMPORTS.claim(run.pk)
        stale = Progress(IMPORTS, run.pk, first)
        stale.written_at = NOW  # its last write was long ago: the next one is due

        with pytest.raises(Superseded):
            stale.add(4)

    assert (first, second) == (1, 2)
    assert OrderImport.objects.values_list("done", flat=True).get() == 0


def test_a_second_job_for_an_import_under_way_or_done_changes_nothing(store):
    run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)
    assert order_import_run(run.pk) == "done"

    assert order_import_run(run.pk) == "done"
    assert order_import_run(999) == "missing"
    assert OrderImport.objects.get().attempts == 1


def test_the_command_and_the_admin_import_the_same_file_alike(store, run_jobs):
    call_command("import_orders", str(SAMPLE), "--store", "acme", stdout=io.StringIO(), stderr=io.StringIO())
    run = order_import_start(store=store, file_name="orders.csv", data=SAMPLE.read_bytes(), user=None)
    run_jobs()

    run.refresh_from_db()
    assert (run.orders_created, run.orders_updated, run.rows_rejected) == (0, 6, 0)


def test_a_file_over_the_size_limit_is_a_form_error_before_it_is_read(admin_client, store, settings):
    settings.ORDER_IMPORT_MAX_BYTES = 1000

    response = upload(admin_client, store, SimpleUploadedFile("orders.csv", SAMPLE.read_bytes()))

    assert response.status_code == 200
    page = response.content.decode()
    assert "The file is 2.3\xa0KB; the admin takes up to 1000\xa0bytes." in page
    assert OrderImport.objects.count() == 0
