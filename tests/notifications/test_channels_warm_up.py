"""Channels warm up before RQ forks its work horses (cxhub/worker.py): they load what their first send loads
lazily, and send nothing, connect nowhere."""

from __future__ import annotations

import sys

import pytest
from django.core import mail
from django.template import engines

from notifications.channels import channels_warm_up
from notifications.channels.email import LAYOUT_TEMPLATE, EmailChannel
from notifications.channels.sms import SmsChannel
from tests.services import free_port

pytest_plugins = ["tests.fakes.twilio"]


def test_warming_every_channel_up_sends_nothing(fake_twilio):
    channels_warm_up()

    assert fake_twilio.requests == []
    assert mail.outbox == []


def test_the_sms_channel_imports_the_twilio_api_its_sends_use(fake_twilio):
    SmsChannel().warm_up()

    assert "twilio.rest.api.v2010.account.message" in sys.modules
    assert fake_twilio.requests == []


@pytest.mark.parametrize("configured", [True, False])
def test_the_sms_channel_warms_up_configured_or_not(settings, configured):
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens: nothing may connect
    if not configured:
        settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = ""

    SmsChannel().warm_up()


def test_the_email_channel_compiles_its_layout_and_connects_nowhere(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    (loader,) = engines["django"].engine.template_loaders  # the cached loader, as in production
    loader.reset()

    EmailChannel().warm_up()

    assert LAYOUT_TEMPLATE in loader.get_template_cache
