"""What a failed request is answered: JSON for programs (webhooks, the API), a plain page for people, and a
503 to retry later when the database is unreachable (tests/reliability/test_database_down.py has the outage)."""

import json

import pytest
from django.db import OperationalError

from cxhub.errors import server_error


def answer_to(rf, path: str, error: Exception):
    try:
        raise error
    except type(error):  # Django calls handler500 while handling the exception
        return server_error(rf.get(path))


@pytest.mark.parametrize(("path", "key"), [("/webhooks/shopify/", "error"), ("/api/v1/orders/", "detail")])
def test_programs_get_json_naming_what_happened_as_their_other_errors_do(rf, path, key):
    crashed = answer_to(rf, path, ValueError("a bug"))
    unreachable = answer_to(rf, path, OperationalError("connection refused"))

    assert (crashed.status_code, json.loads(crashed.content)) == (500, {key: "Internal error."})
    assert not crashed.has_header("Retry-After")
    assert (unreachable.status_code, unreachable["Retry-After"]) == (503, "30")
    assert json.loads(unreachable.content) == {key: "The database is unavailable; retry later."}


def test_people_get_a_page_that_says_whether_to_try_again_soon(rf):
    crashed = answer_to(rf, "/track/abc/", ValueError("a bug"))
    unreachable = answer_to(rf, "/returns/", OperationalError("connection refused"))

    assert crashed.status_code == 500
    assert "Something went wrong on our side" in crashed.content.decode()
    assert unreachable.status_code == 503
    assert "Please try again in a minute." in unreachable.content.decode()


@pytest.mark.django_db
def test_an_address_that_leads_nowhere_gets_a_page_not_found_or_json_for_programs(client):
    page = client.get("/no-such-page/")
    endpoint = client.get("/api/v1/no-such-endpoint/")

    assert page.status_code == 404
    assert "This address does not lead anywhere" in page.content.decode()
    assert "Look up your order" in page.content.decode()
    assert (endpoint.status_code, endpoint.json()) == (404, {"detail": "No such endpoint."})
