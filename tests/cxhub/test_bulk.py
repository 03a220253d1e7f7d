"""rows_update: each row's own values, one statement, the same result as Django's bulk_update."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cxhub.bulk import rows_update
from playbooks.choices import RemedyState
from playbooks.models import Remedy
from tests.factories import ExceptionCaseFactory, RemedyFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 18, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def remedies() -> list[Remedy]:
    case = ExceptionCaseFactory()
    return [RemedyFactory(case=case) for _ in range(3)]


def test_it_writes_each_rows_own_values_in_one_statement(remedies):
    done, failed, untouched = remedies
    done.state, done.result, done.executed_at = RemedyState.DONE, {"message": "m-1", "sent": True}, WHEN
    failed.state, failed.error, failed.amount = RemedyState.FAILED, 'Twilio 400: it\'s "invalid"', Decimal("12.50")

    with CaptureQueriesContext(connection) as queries:
        rows_update([done, failed], ["state", "result", "error", "executed_at", "amount"])

    assert len(queries) == 1
    done.refresh_from_db()
    failed.refresh_from_db()
    assert (done.state, done.result, done.error, done.executed_at) == (
        RemedyState.DONE,
        {"message": "m-1", "sent": True},
        "",
        WHEN,
    )
    assert (failed.state, failed.error, failed.executed_at, failed.amount) == (
        RemedyState.FAILED,
        'Twilio 400: it\'s "invalid"',
        None,
        Decimal("12.50"),
    )
    assert Remedy.objects.get(pk=untouched.pk).state == RemedyState.PLANNED


def test_it_leaves_fields_not_named_as_they_are_in_the_database(remedies):
    first = remedies[0]
    Remedy.objects.filter(pk=first.pk).update(error="written meanwhile")
    first.state, first.error = RemedyState.DONE, "stale"

    rows_update([first], ["state"])

    first.refresh_from_db()
    assert (first.state, first.error) == (RemedyState.DONE, "written meanwhile")


def test_no_rows_cost_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        rows_update([], ["state"])
