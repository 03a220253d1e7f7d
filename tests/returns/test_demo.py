"""The demo shows returns at every step, made through the real services."""

import pytest
from django.core.management import call_command

from orders.demo import demo_seed
from orders.models import ExchangeVariant, ReturnPolicy, ReturnRequest

pytestmark = pytest.mark.django_db


def test_seed_returns_gives_each_store_a_policy_and_the_demo_returns_at_each_step(run_jobs):
    demo_seed(orders=120)
    call_command("seed_returns", demo=True)
    run_jobs()

    assert ReturnPolicy.objects.count() == 2 and ExchangeVariant.objects.exists()
    states = set(ReturnRequest.objects.values_list("state", flat=True))
    assert {"label_issued", "in_transit"} <= states and states & {"refunded", "credited", "exchanged"}

    call_command("seed_returns", demo=True)  # idempotent
    assert ReturnRequest.objects.count() == 8
