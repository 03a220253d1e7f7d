"""Action registry: one file per step action; `kind` -> class path (lazy imports)."""

from __future__ import annotations

from importlib import import_module

from .base import Action

ACTIONS_PATHS: dict[str, str] = {
    "notify": "playbooks.actions.notify.NotifyAction",
    "expedite": "playbooks.actions.expedite.ExpediteAction",
    "reship": "playbooks.actions.reship.ReshipAction",
    "refund_shipping": "playbooks.actions.refund_shipping.RefundShippingAction",
    "refund": "playbooks.actions.refund.RefundAction",
    "coupon": "playbooks.actions.coupon.CouponAction",
    "store_credit": "playbooks.actions.store_credit.StoreCreditAction",
    "hold_and_retry": "playbooks.actions.hold_and_retry.HoldAndRetryAction",
    "helpdesk_note": "playbooks.actions.helpdesk_note.HelpdeskNoteAction",
    "escalate": "playbooks.actions.escalate.EscalateAction",
    "survey": "playbooks.actions.survey.SurveyAction",
    "ship_exchange": "playbooks.actions.ship_exchange.ShipExchangeAction",
}


class _Registry(dict):
    def __missing__(self, kind: str) -> Action:
        if kind not in ACTIONS_PATHS:
            raise KeyError(kind)
        module_path, class_name = ACTIONS_PATHS[kind].rsplit(".", 1)
        action = getattr(import_module(module_path), class_name)()
        self[kind] = action
        return action

    def __contains__(self, kind: object) -> bool:
        return kind in ACTIONS_PATHS

    def all(self) -> list[Action]:
        return [self[kind] for kind in ACTIONS_PATHS]


ACTIONS = _Registry()


def action_label(kind: str) -> str:
    """An action's name for people ("Ship a replacement"); its code when no action has it any more."""
    return ACTIONS[kind].label if kind in ACTIONS else kind


def action_choices() -> list[tuple[str, str]]:
    return [(a.kind, a.label) for a in ACTIONS.all()]
