"""After delivery, ask the customer how it went (a short survey message)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playbooks.params import Param, resolve_params

from .notify import CHANNELS, MessageAction, send_message

if TYPE_CHECKING:
    from decimal import Decimal

    from playbooks.models import ExceptionCase, Remedy

TEMPLATE = "post_delivery_survey"


class SurveyAction(MessageAction):
    kind = "survey"
    label = "Ask how the delivery went"
    params = {"channel": Param(str, "auto", "auto (the customer's preferred channel), sms or email.", choices=CHANNELS)}

    def message_kind(self, params: dict[str, Any]) -> str:
        return TEMPLATE

    def describe(self, case: ExceptionCase, params: dict[str, Any], amount: Decimal) -> str:
        return "Asked how the delivery went"

    def execute(self, remedy: Remedy) -> dict[str, Any]:
        params = resolve_params(self.params, remedy.params)
        return send_message(remedy, template=TEMPLATE, channel=params["channel"])
