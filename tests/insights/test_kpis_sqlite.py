"""The KPIs on the SQLite demo database, where percentile_cont does not exist: same answers, page renders."""

import pytest

from tests.project import demo_env, manage

SCRIPT = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone
from insights.kpis import KpiScope, time_to_notify
from tests.factories import MessageFactory, StoreFactory

store = StoreFactory(name="Acme Linen", slug="acme-sqlite")
now = timezone.now().replace(microsecond=0)
for seconds in (40, 10, 100, 30, 20):
    MessageFactory(order__store=store, kind="delay", status="sent", detected_at=now - timedelta(hours=1),
                   sent_at=now - timedelta(hours=1) + timedelta(seconds=seconds))
figures = time_to_notify(KpiScope.last_days(store=store))
print("vendor", connection.vendor)
print("time_to_notify", figures.messages, figures.p50.total_seconds(), figures.p90.total_seconds())

admin = get_user_model().objects.create_superuser("kpi-admin", "kpi@example.com", "x")
client = Client()
client.force_login(admin)
page = client.get("/admin/insights/kpisettings/dashboard/")
print("page", page.status_code, page.content.decode().count('class="kpi-chart"'))
csv = client.get("/admin/insights/kpisettings/dashboard/summary.csv")
print("csv", csv.status_code, csv.content.decode().splitlines()[0])
"""


@pytest.mark.sqlite
def test_the_kpis_work_on_the_sqlite_demo_database(tmp_path):
    env = demo_env(tmp_path / "kpis.sqlite3", ALLOWED_HOSTS="testserver")
    for args in (["migrate", "--noinput"], ["seed_demo", "--orders", "30"]):
        result = manage(*args, env=env)
        assert result.returncode == 0, result.stderr

    result = manage("shell", "-c", SCRIPT, env=env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "vendor sqlite" in lines
    # The portable percentiles give percentile_cont's answers: median 30 s, p90 40 + 0.6 x 60 = 76 s.
    assert "time_to_notify 5 30.0 76.0" in lines
    # Five daily series, the holdout comparison (seed_demo writes what the playbooks did) and the ratings.
    assert "page 200 7" in lines
    assert "csv 200 KPI,Value,Based on" in lines
