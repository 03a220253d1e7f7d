"""The OpenAPI schema validates, and the docs page is served by the hub itself."""

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

OPERATIONS = {
    "/api/v1/orders/": {"get", "post"},
    "/api/v1/orders/{order_number}/": {"get", "put", "patch"},
    "/api/v1/shipments/": {"post"},
    "/api/v1/tracking-events/": {"post"},
    "/api/v1/tracking-events/bulk/": {"post"},
    "/api/v1/tickets/": {"post"},
    "/api/v1/data-requests/": {"post"},
    "/api/v1/carrier-pauses/": {"get"},
}


def test_it_generates_a_valid_schema_without_warnings(tmp_path):
    path = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))

    schema = yaml.safe_load(path.read_text())
    assert {p: set(ops) for p, ops in schema["paths"].items()} == OPERATIONS
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert operation["summary"]
            assert operation["security"] == [{"tokenAuth": []}]
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_it_serves_the_schema():
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/tracking-events/bulk/" in response.content


def test_it_serves_the_docs_page_without_external_hosts():
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "drf_spectacular_sidecar" in html
    for host in ("https://cdn", "unpkg", "jsdelivr", "cdnjs"):
        assert host not in html
