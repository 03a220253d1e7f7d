"""The project as a new user and an operator meet it: SQLite demo defaults, production checks."""

import pytest
from django.core.management import call_command

from cxhub.settings import DEMO_SECRET_KEY
from tests.project import demo_env, manage


@pytest.mark.sqlite
def test_the_demo_defaults_migrate_and_seed_an_sqlite_database(tmp_path):
    env = demo_env(tmp_path / "demo.sqlite3")

    for args in (["migrate", "--noinput"], ["seed_demo", "--orders", "20"], ["seed_demo", "--orders", "20"]):
        result = manage(*args, env=env)
        assert result.returncode == 0, result.stderr

    assert "2 stores, 20 orders" in result.stdout
    count = manage("shell", "-c", "from orders.models import Order; print(Order.objects.count())", env=env)
    assert count.stdout.strip().splitlines()[-1] == "20"


def test_check_deploy_is_clean_with_production_settings():
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "p" * 20 + "-production-secret-key-with-enough-entropy-9f8e7d6c5b4a",
        "ALLOWED_HOSTS": "cx.example.com",
        "PUBLIC_BASE_URL": "https://cx.example.com",
        "CACHE_URL": "rediscache://127.0.0.1:6379/1",
    }

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_rate_limits_live_in_a_per_process_cache():
    env = {"DEBUG": "false", "SECRET_KEY": "p" * 60, "ALLOWED_HOSTS": "cx.example.com", "CACHE_URL": "locmemcache://"}

    result = manage("check", "--deploy", env=env)

    assert "cxhub.W001" in result.stderr + result.stdout


def test_migrations_are_complete():
    result = manage("makemigrations", "--check", "--dry-run", env={"DEBUG": "true"})

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_redis_cache_waits_half_a_second_at_most_unless_its_url_says_otherwise():
    read = "from django.conf import settings; print(settings.CACHES['default']['OPTIONS'])"
    base = {"DEBUG": "false", "SECRET_KEY": "p" * 60, "ALLOWED_HOSTS": "cx.example.com"}

    default = manage("shell", "-c", read, env={**base, "CACHE_URL": "rediscache://127.0.0.1:6379/1"})
    chosen = manage("shell", "-c", read, env={**base, "CACHE_URL": "rediscache://127.0.0.1:6379/1?socket_timeout=2"})

    assert default.stdout.strip().splitlines()[-1] == "{'socket_timeout': 0.5, 'socket_connect_timeout': 0.5}"
    assert chosen.stdout.strip().splitlines()[-1] == "{'socket_timeout': 2, 'socket_connect_timeout': 0.5}"


def test_server_side_cursors_can_be_turned_off_for_a_transaction_pooler():
    read = "from django.conf import settings; print(settings.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS'])"
    base = {"DEBUG": "false", "SECRET_KEY": "p" * 60, "ALLOWED_HOSTS": "cx.example.com"}

    default = manage("shell", "-c", read, env=base)
    pooled = manage("shell", "-c", read, env={**base, "DISABLE_SERVER_SIDE_CURSORS": "true"})

    assert default.stdout.strip().splitlines()[-1] == "False"
    assert pooled.stdout.strip().splitlines()[-1] == "True"


PRODUCTION = {"DEBUG": "false", "ALLOWED_HOSTS": "cx.example.com", "PUBLIC_BASE_URL": "https://cx.example.com"}


def test_production_refuses_to_start_without_a_secret_key_of_its_own():
    # Customers' links are signed with it: with the public demo key anyone could forge one to any order.
    missing = manage("check", env=PRODUCTION)
    demo_key = manage("check", env={**PRODUCTION, "SECRET_KEY": DEMO_SECRET_KEY})

    assert missing.returncode != 0
    assert "Set the SECRET_KEY environment variable" in missing.stderr
    assert demo_key.returncode != 0
    assert "SECRET_KEY is the public demo key" in demo_key.stderr


def test_the_previous_secret_keys_are_read_from_the_environment_for_a_rotation():
    read = "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"
    env = {**PRODUCTION, "SECRET_KEY": "n" * 60, "SECRET_KEY_FALLBACKS": "o" * 50 + "," + "p" * 50}

    result = manage("shell", "-c", read, env=env)

    assert result.stdout.strip().splitlines()[-1] == str(["o" * 50, "p" * 50])


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://cx.example.com", "https://localhost"])
def test_check_deploy_warns_when_customers_links_would_not_reach_the_hub(url):
    env = {**PRODUCTION, "SECRET_KEY": "p" * 60, "CACHE_URL": "rediscache://127.0.0.1:6379/1", "PUBLIC_BASE_URL": url}

    result = manage("check", "--deploy", env=env)

    assert "cxhub.W002" in result.stderr + result.stdout


def test_collected_static_files_are_served_by_the_hub_itself(tmp_path, settings, client):
    # Without them the admin has no styles and the API docs no Swagger UI.
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)

    css = client.get("/static/admin/css/base.css")
    swagger = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")

    assert css.status_code == 200
    assert css["Content-Type"].startswith("text/css")
    assert swagger.status_code == 200
