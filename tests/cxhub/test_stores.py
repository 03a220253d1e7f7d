"""A new store starts with the defaults it needs to work, and giving them again changes nothing."""

import pytest

from cxhub.stores import StoreDefaults, store_defaults_give
from notifications.defaults import DEFAULT_TEMPLATES
from playbooks.defaults import DEFAULT_CAPS
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


def test_a_store_is_given_every_default_template_cap_and_a_return_policy_once():
    store = StoreFactory()
    templates = sum(len(channels) for channels in DEFAULT_TEMPLATES.values())

    assert store_defaults_give(store) == StoreDefaults(templates=templates, caps=len(DEFAULT_CAPS), return_policy=True)
    assert store_defaults_give(store) == StoreDefaults(templates=0, caps=0, return_policy=False)


def test_what_a_manager_edited_is_kept():
    store = StoreFactory()
    store_defaults_give(store)
    cap = store.caps.get(action="refund")
    cap.max_auto_amount = 5
    cap.save()

    store_defaults_give(store)

    assert store.caps.get(action="refund").max_auto_amount == 5
