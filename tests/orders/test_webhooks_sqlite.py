"""The webhook door on the SQLite demo database: its one-statement store (orders.ingest._insert) is SQL of
the project's own, so it runs on both databases the hub supports."""

import pytest

from tests.project import demo_env, manage

SCRIPT = """
from django.db import connection
from django.test import Client
from orders.models import InboundDelivery, Store
from tests import signing

store = Store.objects.create(name="Acme", slug="acme", easypost_webhook_secret="first-secret")
body = signing.load("easypost", "02_tracker_updated_in_transit")
client = Client()

def post(secret):
    answer = client.post("/webhooks/easypost/", body, content_type="application/json",
                         **signing.easypost_headers(body, secret))
    return answer.status_code, answer.json().get("status", answer.json().get("error"))

print("vendor", connection.vendor)
print("first", *post("first-secret"))
print("again", *post("first-secret"))
Store.objects.filter(pk=store.pk).update(easypost_webhook_secret="second-secret")
print("old secret", *post("first-secret"))
print("new secret", *post("second-secret"))
print("stored", *InboundDelivery.objects.order_by("pk").values_list("state", flat=True))
print("headers kept", InboundDelivery.objects.first().headers["Content-Type"])
"""


@pytest.mark.sqlite
def test_the_webhook_stores_once_and_refuses_a_rotated_secret_on_sqlite(tmp_path):
    # No Redis: the answer never waits for it, and deliveries stay as stored (nothing processes them here).
    env = demo_env(tmp_path / "webhooks.sqlite3", ALLOWED_HOSTS="testserver", RQ_SYNC="false",
                   REDIS_URL="redis://127.0.0.1:1/0")  # fmt: skip
    assert manage("migrate", "--noinput", env=env).returncode == 0

    result = manage("shell", "-c", SCRIPT, env=env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "vendor sqlite" in lines
    assert "first 200 received" in lines
    assert "again 200 duplicate" in lines
    assert "old secret 401 invalid signature" in lines
    assert "new secret 200 duplicate" in lines  # the same event, signed with the store's current secret
    assert "stored received duplicate duplicate" in lines
    assert "headers kept application/json" in lines
