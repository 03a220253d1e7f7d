"""Detector registry: one file per exception type; `kind` -> class path (lazy imports)."""

from __future__ import annotations

from importlib import import_module

from .base import Detector

DETECTORS_PATHS: dict[str, str] = {
    "no_first_scan": "playbooks.detectors.no_first_scan.NoFirstScanDetector",
    "transit_stall": "playbooks.detectors.transit_stall.TransitStallDetector",
    "late_to_ship": "playbooks.detectors.late_to_ship.LateToShipDetector",
    "failed_attempt": "playbooks.detectors.failed_attempt.FailedAttemptDetector",
    "delivered_not_received": "playbooks.detectors.delivered_not_received.DeliveredNotReceivedDetector",
    "address_problem": "playbooks.detectors.address_problem.AddressProblemDetector",
    "failed_payment": "playbooks.detectors.failed_payment.FailedPaymentDetector",
    "carrier_disruption": "playbooks.detectors.carrier_disruption.CarrierDisruptionDetector",
    "post_delivery": "playbooks.detectors.post_delivery.PostDeliveryDetector",
    "return_exchange": "playbooks.detectors.return_exchange.ReturnExchangeDetector",
    # Milestones: no problem at all, just what customers expect to hear.
    "milestone_confirmed": "playbooks.detectors.milestones.OrderConfirmedMilestone",
    "milestone_shipped": "playbooks.detectors.milestones.ShippedMilestone",
    "milestone_out_for_delivery": "playbooks.detectors.milestones.OutForDeliveryMilestone",
    "milestone_delivered": "playbooks.detectors.milestones.DeliveredMilestone",
}


def _load(path: str) -> type[Detector]:
    module_path, class_name = path.rsplit(".", 1)
    return getattr(import_module(module_path), class_name)


class _Registry(dict):
    """kind -> Detector instance, imported on first use."""

    def __missing__(self, kind: str) -> Detector:
        if kind not in DETECTORS_PATHS:
            raise KeyError(kind)
        detector = _load(DETECTORS_PATHS[kind])()
        self[kind] = detector
        return detector

    def __contains__(self, kind: object) -> bool:
        return kind in DETECTORS_PATHS

    def all(self) -> list[Detector]:
        return [self[kind] for kind in DETECTORS_PATHS]

    def informational_kinds(self) -> list[str]:
        """The types that are news, not problems (milestones, post-delivery care, exchanges): every order
        has them, and nobody needs to act on one."""
        return [detector.kind for detector in self.all() if detector.resolves_when_acted]


DETECTORS = _Registry()


def detector_label(kind: str) -> str:
    """An exception type's name for people ("Stalled in transit"); its code when no detector has it any more."""
    return DETECTORS[kind].label if kind in DETECTORS else kind


def detector_choices() -> list[tuple[str, str]]:
    return [(d.kind, d.label) for d in DETECTORS.all()]
