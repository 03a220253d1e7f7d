"""GET /healthz names the state of the database and Redis."""

import pytest
from django.db import connection
from django.test import override_settings


@pytest.mark.django_db
def test_it_answers_200_when_database_and_redis_are_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_it_answers_503_naming_redis_when_redis_is_down(client):
    with override_settings(RQ_QUEUES={"default": {"URL": "redis://127.0.0.1:1/0"}}):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["redis"]
    assert body["database"] == "ok"
    assert body["redis"].startswith("error: ConnectionError")


@pytest.mark.django_db
def test_it_answers_503_naming_the_database_when_it_is_down(client, monkeypatch):
    def refuse(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["redis"] == "ok"
