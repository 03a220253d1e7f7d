"""The voice: per-store notification settings, editable message templates and the outbox.

Every outgoing message is a Message row, created in the same transaction as the decision to send it,
with a unique idempotency key: "never twice" is a database fact, not a hope.
"""

from __future__ import annotations

import uuid
from datetime import time

from django.db import models
from django.db.models import Q

from orders.choices import Channel
from orders.models import Customer, Order, Store

from .choices import MessageKind, MessageStatus


class NotificationSettings(models.Model):
    """How a store talks to its customers: quiet hours and how often."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="notification_settings")
    quiet_start = models.TimeField(default=time(21, 0), help_text="In the customer's own time zone.")
    quiet_end = models.TimeField(default=time(8, 0))
    max_per_order_per_day = models.PositiveSmallIntegerField(default=3)
    max_per_customer_per_week = models.PositiveSmallIntegerField(default=6)
    merge_window_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="Messages to one customer about one order this close together are merged into one."
    )

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.store}"


class MessageTemplate(models.Model):
    """What a message of one kind says on one channel, in a store's voice. Edited by CX managers."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="message_templates")
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject = models.CharField(max_length=200, blank=True, help_text="Email only.")
    body_text = models.TextField(help_text="The SMS, or the plain-text part of the email.")
    body_html = models.TextField(blank=True, help_text="Email only: the HTML part (a text part is always sent).")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["store", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["store", "kind", "channel"], name="template_unique_kind_channel")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_channel_display()}) for {self.store}"


class Message(models.Model):
    """One intended send: the outbox row. Its key makes a second send of the same thing impossible."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Used in callbacks.")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="messages")
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages")
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages")
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    to = models.CharField(max_length=254, help_text="Phone number (E.164) or email address.")
    subject = models.CharField(max_length=200, blank=True)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    urgent = models.BooleanField(default=False)
    scheduled_for = models.DateTimeField(null=True, blank=True, help_text="Held until then (quiet hours).")
    merged_into = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged")
    detected_at = models.DateTimeField(null=True, blank=True, help_text="When the hub saw the reason to write.")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the provider accepted it.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["status", "scheduled_for"],
                name="message_due",
                condition=Q(status__in=["scheduled", "queued", "sending"]),
            ),
            models.Index(fields=["order", "created_at"], name="message_order_created"),
            models.Index(fields=["customer", "created_at"], name="message_customer_created"),
            models.Index(fields=["provider_id"], name="message_provider_id"),
            # KPIs: messages sent per day, time to notify.
            models.Index(fields=["sent_at"], name="message_sent", condition=Q(sent_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.get_channel_display()} to {self.to}"

    @property
    def time_to_notify(self) -> float | None:
        """Seconds from the hub seeing the reason to the provider accepting the message."""
        if self.detected_at and self.sent_at:
            return (self.sent_at - self.detected_at).total_seconds()
        return None
