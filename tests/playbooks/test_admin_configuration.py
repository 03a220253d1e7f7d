"""Configuring the brain in the admin: detectors' thresholds, playbooks and their steps. What a CX manager
types wrong comes back on the field that is wrong (never a 500, never saved); reading changes nothing."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from cxhub.roles import ANALYST, CX_MANAGER, roles_setup
from playbooks.detectors import DETECTORS_PATHS
from playbooks.models import AuditEvent, DetectorConfig, ExceptionCase, Playbook, PlaybookStep, PlaybookVersion
from tests.factories import (
    AuditEventFactory,
    DetectorConfigFactory,
    ExceptionCaseFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    PlaybookVersionFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roles():
    roles_setup()


@pytest.fixture
def login(client, django_user_model):
    def as_role(role: str):
        user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return as_role


def errors_on(response, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


# --- Detectors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ('{"hours": -1}', "hours: must be at least 1 (not -1)."),
        ('{"hours": "abc"}', "hours: 'abc' is not a valid whole number."),
        ("[]", "Parameters must be a JSON object"),
        ("[1, 2]", "Parameters must be a JSON object"),
        ('{"hourz": 12}', "Unknown parameter(s): hourz. Known: hours."),
    ],
    ids=["below_minimum_case", "not_a_number_case", "empty_list_case", "list_case", "unknown_name_case"],
)
def test_bad_detector_thresholds_are_shown_on_the_params_field_and_not_saved(client, login, params, error):
    login(CX_MANAGER)
    config = DetectorConfigFactory(kind="no_first_scan", params={"hours": 36})

    response = client.post(
        reverse("admin:playbooks_detectorconfig_change", args=[config.pk]),
        {"kind": "no_first_scan", "enabled": "on", "params": params},
    )

    assert response.status_code == 200
    assert any(e.startswith(error) for e in errors_on(response, "params")), errors_on(response, "params")
    config.refresh_from_db()
    assert config.params == {"hours": 36}


def test_good_detector_thresholds_are_saved(client, login):
    login(CX_MANAGER)
    config = DetectorConfigFactory(kind="no_first_scan")

    response = client.post(
        reverse("admin:playbooks_detectorconfig_change", args=[config.pk]),
        {"kind": "no_first_scan", "enabled": "on", "params": '{"hours": 24}'},
    )

    assert response.status_code == 302
    config.refresh_from_db()
    assert config.params == {"hours": 24}


def test_viewing_the_detector_list_writes_nothing_for_a_read_only_analyst(client, login):
    login(ANALYST)

    assert client.get(reverse("admin:playbooks_detectorconfig_changelist")).status_code == 200
    assert DetectorConfig.objects.count() == 0


def test_a_cx_manager_finds_a_row_to_edit_for_every_detector(client, login):
    login(CX_MANAGER)
    DetectorConfigFactory(kind="no_first_scan", params={"hours": 36})

    assert client.get(reverse("admin:playbooks_detectorconfig_changelist")).status_code == 200
    assert sorted(DetectorConfig.objects.values_list("kind", flat=True)) == sorted(DETECTORS_PATHS)
    assert DetectorConfig.objects.get(kind="no_first_scan").params == {"hours": 36}


# --- Playbooks and steps -----------------------------------------------------------------------------------------


def playbook_form(*, carriers: str = "", steps: list[tuple[str, str]] = ()) -> dict[str, str]:
    form = {
        "name": "Ship-slip", "store": "", "trigger": "no_first_scan", "state": "draft", "priority": "100",
        "min_lifetime_value": "", "min_order_value": "", "max_order_value": "", "destination": "any",
        "carriers": carriers, "holdout_percent": "10",
        "steps-TOTAL_FORMS": str(len(steps)), "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for i, (action, params) in enumerate(steps):
        form |= {f"steps-{i}-position": str(i + 1), f"steps-{i}-action": action, f"steps-{i}-params": params}
    return form


@pytest.mark.parametrize(
    ("action", "params", "error"),
    [
        ("coupon", '{"amount": "-5"}', "amount: must be at least 0 (not '-5')."),
        ("coupon", '{"amount": "abc"}', "amount: 'abc' is not a valid number."),
        ("coupon", "[1, 2]", "Parameters must be a JSON object"),
        ("notify", '{"template": "does_not_exist"}', "template: 'does_not_exist' is not one of "),
        ("notify", '{"channel": "fax"}', "channel: 'fax' is not one of auto, sms, email."),
        ("survey", '{"channel": "pigeon"}', "channel: 'pigeon' is not one of auto, sms, email."),
    ],
    ids=[
        "negative_amount_case",
        "amount_not_a_number_case",
        "list_case",
        "unknown_template_case",
        "unknown_channel_case",
        "survey_unknown_channel_case",
    ],
)
def test_bad_step_params_are_shown_on_the_step_and_nothing_is_saved(client, login, action, params, error):
    login(CX_MANAGER)

    response = client.post(reverse("admin:playbooks_playbook_add"), playbook_form(steps=[(action, params)]))

    assert response.status_code == 200
    [step_errors] = [form.errors.get("params", []) for form in response.context["inline_admin_formsets"][0].formset]
    assert any(e.startswith(error) for e in step_errors), step_errors
    assert not Playbook.objects.exists() and not PlaybookStep.objects.exists()


def test_good_steps_are_saved_as_a_new_version(client, login):
    login(CX_MANAGER)

    response = client.post(
        reverse("admin:playbooks_playbook_add"),
        playbook_form(carriers="UPS, Canada Post", steps=[("notify", '{"template": "delay", "channel": "sms"}'),
                                                          ("coupon", '{"amount": "7.50"}')]),
    )  # fmt: skip

    assert response.status_code == 302
    playbook = Playbook.objects.get()
    assert playbook.carriers == "ups,canada_post"
    assert [(s.action, s.params) for s in playbook.steps.order_by("position")] == [
        ("notify", {"template": "delay", "channel": "sms"}), ("coupon", {"amount": "7.50"})]  # fmt: skip
    assert playbook.versions.count() == 1


def test_an_unknown_carrier_is_refused_but_one_seen_on_a_shipment_is_accepted(client, login):
    login(CX_MANAGER)
    url = reverse("admin:playbooks_playbook_add")

    refused = client.post(url, playbook_form(carriers="ups, notacarrier"))
    ShipmentFactory(carrier="lasership")
    accepted = client.post(url, playbook_form(carriers="LaserShip"))

    assert refused.status_code == 200
    assert errors_on(refused, "carriers")[0].startswith("Unknown carrier(s): notacarrier. Known: ")
    assert accepted.status_code == 302
    assert Playbook.objects.get().carriers == "lasership"


# --- Deleting a playbook ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("trail", ["exception", "audit_event"], ids=["exception_case", "audit_event_case"])
def test_a_playbook_that_has_acted_cannot_be_deleted_pause_it_instead(admin_client, trail):
    version = PlaybookVersionFactory()
    playbook = version.playbook
    if trail == "exception":
        ExceptionCaseFactory(playbook_version=version)
    else:
        AuditEventFactory(playbook_version=version)
    url = reverse("admin:playbooks_playbook_delete", args=[playbook.pk])

    shown = admin_client.get(url, follow=True)
    posted = admin_client.post(url, {"post": "yes"}, follow=True)

    for response in (shown, posted):
        assert any("cannot be deleted" in str(m) and "Pause it instead" in str(m) for m in response.context["messages"])
    assert Playbook.objects.filter(pk=playbook.pk).exists() and PlaybookVersion.objects.filter(pk=version.pk).exists()
    assert ExceptionCase.objects.filter(playbook_version=version).count() + AuditEvent.objects.filter(
        playbook_version=version).count() == 1  # fmt: skip


def test_a_playbook_that_never_acted_can_be_deleted(admin_client):
    step = PlaybookStepFactory()
    PlaybookVersionFactory(playbook=step.playbook)

    response = admin_client.post(reverse("admin:playbooks_playbook_delete", args=[step.playbook.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Playbook.objects.exists()


def test_the_playbook_list_has_no_bulk_delete(admin_client):
    PlaybookFactory()

    page = admin_client.get(reverse("admin:playbooks_playbook_changelist")).content.decode()

    assert 'value="delete_selected"' not in page
