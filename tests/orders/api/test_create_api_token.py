"""`manage.py create_api_token STORE_SLUG --name NAME` issues a key and shows it once."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from orders.models import ApiToken
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


def test_it_prints_a_key_that_authenticates_for_the_store():
    store = StoreFactory(slug="acme", name="Acme")
    out, err = StringIO(), StringIO()

    call_command("create_api_token", "acme", "--name", "Warehouse WMS", stdout=out, stderr=err)

    key = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert key.startswith("cxh_")
    assert (token.store, token.name, token.key_prefix, token.key_hash) == (
        store,
        "Warehouse WMS",
        key[:10],
        ApiToken.hash_key(key),
    )
    assert "cannot be shown again" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/orders/").status_code == 200


def test_it_fails_with_exit_code_2_for_an_unknown_store():
    StoreFactory(slug="acme")

    with pytest.raises(CommandError) as error:
        call_command("create_api_token", "nope", "--name", "WMS")

    assert error.value.returncode == 2
    assert str(error.value) == "No store with slug 'nope' (stores: acme)."
    assert not ApiToken.objects.exists()


def test_it_exits_with_code_2_from_the_command_line(capsys):
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "create_api_token", "nope", "--name", "WMS"]).execute()

    assert exit_.value.code == 2
    assert "No store with slug 'nope' (stores: none yet)." in capsys.readouterr().err
