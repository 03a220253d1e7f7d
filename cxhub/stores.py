"""What a new store starts with, so that it works from its first order: the default message templates
(without them no message can reach its customers), compensation caps (without them every remedy waits for
an approval) and return policy. The seed commands give the same to stores that existed before them (after
an upgrade that adds defaults); nothing here changes what a manager already has.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from notifications.defaults import templates_seed
from orders.models import Store
from playbooks.defaults import caps_seed
from returns.defaults import policy_seed


@dataclass(frozen=True)
class StoreDefaults:
    """What a store was given: how many templates and caps, and whether a return policy."""

    templates: int
    caps: int
    return_policy: bool


@transaction.atomic
def store_defaults_give(store: Store) -> StoreDefaults:
    """Give the store every default it lacks (idempotent: a second call gives nothing)."""
    return StoreDefaults(templates=templates_seed(store), caps=caps_seed(store), return_policy=policy_seed(store))
