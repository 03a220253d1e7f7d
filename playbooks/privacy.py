"""The personal data in the trail of what the hub did: exceptions' facts (an address that failed), remedies'
results (the number a message went to), approvals' reasons and audit messages quote the customer (orders.privacy).

Their words are scrubbed out of that text; the events themselves stay, and the erasure is appended to the
trail. Scrubbing is the one change the append-only audit trail allows, and it is made here only."""

from __future__ import annotations

from collections import Counter
from typing import Any

from orders.choices import EventSource
from orders.models import DataRequest, Order
from orders.privacy import People, PersonalDataHolder, rows_scrub

from .audit import audit_event, audits_record
from .choices import AuditKind
from .models import ActionRecord, Approval, AuditEvent, ExceptionCase, Remedy


class TrailData(PersonalDataHolder):
    def copy(self, people: People) -> dict[str, Any]:
        cases = people.of(ExceptionCase.objects.select_related("order")).order_by("detected_at")
        return {
            "exceptions": [
                {
                    "order_number": case.order.order_number,
                    "detected_at": case.detected_at.isoformat(),
                    "type": case.kind,
                    "state": case.state,
                    "explanation": case.explanation,
                }
                for case in cases
            ]
        }

    def erase(self, people: People, *, request: DataRequest) -> Counter:
        outcome: Counter = Counter()
        if not people.whole_store:  # a whole store is scrubbed batch by batch, by the words of each
            outcome["exceptions"] = rows_scrub(
                ExceptionCase.objects.all(), people, ["facts", "explanation", "resolution"]
            )
            outcome["remedies"] = rows_scrub(
                Remedy.objects.all(), people, ["params", "result", "error"], order="case__order"
            )
            approvals = Approval.objects.all()
            outcome["approvals"] = rows_scrub(approvals, people, ["reason"], order="remedy__case__order")
            records = ActionRecord.objects.all()
            outcome["action records"] = rows_scrub(records, people, ["payload"], order="remedy__case__order")
            outcome["audit events"] = rows_scrub(AuditEvent.objects.all(), people, ["message", "parameters"])
        source = EventSource(request.source).label
        said = f"Personal data erased on request (data request #{request.pk}, from {source})"
        done = ": the customer's name, contact details and addresses, and what they and the store wrote."
        user = request.requested_by
        if people.whole_store:
            trail = [
                audit_event(
                    AuditKind.ERASED, f"{said}, for every customer of the store.", store=request.store, user=user
                )
            ]
        else:
            orders = [Order(pk=pk, store_id=request.store_id) for pk in people.order_ids]  # by id: no query
            trail = [audit_event(AuditKind.ERASED, said + done, order=order, user=user) for order in orders]
        audits_record(trail)
        return +outcome
