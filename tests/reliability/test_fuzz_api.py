"""The REST API fuzzed from its own OpenAPI schema: schemathesis reads /api/schema/ from the hub itself (the
Django WSGI application, in-process), generates valid and invalid requests for every operation and sends them
with a store's API token. The API never answers 500, and a request it refuses changes no data.

Derandomized with a modest number of examples per operation, so every run sends the same requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, settings

from orders.models import ApiToken, Order
from tests.factories import ShipmentFactory, StoreFactory
from tests.orders.api import WATCHED_MODELS

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_key() -> str:
    store = StoreFactory(slug="acme")
    # Something real to find, change and track, besides whatever the generated requests make up.
    ShipmentFactory(order__store=store, order__order_number="1001", tracking_code="1Z999AA10123456784")
    StoreFactory(slug="other")  # and a store the token must never reach
    _, key = ApiToken.issue(store=store, name="schemathesis")
    return key


@contextmanager
def connections_kept_open() -> Iterator[None]:
    """Django closes database connections around each request; its test client turns that off so that the
    test's transaction survives a request, and a plain WSGI call must do the same."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def db_fingerprint() -> list[tuple[str, int, str]]:
    """Every row of the domain models, digested by PostgreSQL: equal fingerprints, unchanged data."""
    with connection.cursor() as cursor:
        found = []
        for model in WATCHED_MODELS:
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t.id)), '') FROM {table} t")
            found.append((model.__name__, *cursor.fetchone()))
    return found


# Loaded when the module is collected (schemathesis' lazy `from_fixture` loader does not run on pytest 9): the
# schema view needs no database.
with connections_kept_open():
    schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_answers_500_and_a_refused_request_changes_nothing(case, api_key):
    before = db_fingerprint()

    with connections_kept_open():
        response = case.call(headers={"Authorization": f"Token {api_key}"})

    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    assert not Order.objects.filter(store__slug="other").exists()  # a token never reaches another store
    if 400 <= response.status_code < 500:
        assert db_fingerprint() == before, (case.method, case.formatted_path, response.status_code)
