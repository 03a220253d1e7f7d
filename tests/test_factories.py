"""Every model has a factory that builds a valid row."""

import factory
import pytest
from django.apps import apps

from tests import factories

pytestmark = pytest.mark.django_db


def factory_for(model):
    return next(
        (
            f
            for f in vars(factories).values()
            if isinstance(f, type) and issubclass(f, factory.django.DjangoModelFactory) and f._meta.model is model
        ),
        None,
    )


@pytest.mark.parametrize(
    "model",
    [
        m
        for m in apps.get_models()
        if m._meta.app_label in {"orders", "playbooks", "notifications", "portal", "insights"}
    ],
    ids=lambda m: m._meta.label,
)
def test_every_model_has_a_factory_that_builds_a_valid_row(model):
    factory = factory_for(model)
    assert factory is not None, f"no factory for {model._meta.label}"

    obj = factory()

    obj.full_clean()
