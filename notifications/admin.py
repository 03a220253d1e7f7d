"""Admin for the voice: message templates (validated on save, previewed live against a real order, sent
to yourself as a test), per-store notification settings and the read-only outbox."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.clickjacking import xframe_options_sameorigin

from orders.admin import ReadOnlyAdmin
from orders.choices import Channel
from orders.models import Order, Store

from .channels import ChannelError
from .channels.email import EmailChannel, branded_html, from_header
from .choices import TRANSACTIONAL_KINDS, MessageKind, MessageStatus
from .models import Message, MessageTemplate, NotificationSettings
from .rendering import (
    PLACEHOLDERS,
    SAMPLE_CONTEXT,
    Rendered,
    SmsLength,
    TemplateRenderError,
    message_context,
    render_message,
    sms_body,
    sms_segments,
    validate_template,
)

# Filled by playbooks in real messages; the preview shows what a remedy looks like with sample values.
PREVIEW_EXTRA = {"action": SAMPLE_CONTEXT["action"], "offer": SAMPLE_CONTEXT["offer"]}
PREVIEW_ORDER_CHOICES = 20


def describe_length(length: SmsLength) -> str:
    segments = f"{length.segments} segment{'s' if length.segments != 1 else ''}"
    return f"{length.characters} characters · {segments} ({length.encoding})"


def template_sms_length(template: MessageTemplate) -> str:
    """The SMS's length with the sample values: the one figure the change list, the change form and its
    live preview all show. Measured on what the SMS channel hands Twilio (`sms_body`: a curly quote goes
    out straight, so it must not count as UCS-2)."""
    try:
        text = render_message(template, SAMPLE_CONTEXT).text
    except TemplateRenderError:
        return "does not render"
    return describe_length(sms_segments(sms_body(text)))


def newest_order(store: Store, pk: object = None) -> Order | None:
    """The order a preview or test uses: the given one if it belongs to the store, else the newest."""
    orders = Order.objects.filter(store=store).select_related("store", "customer")
    if pk not in (None, ""):
        try:
            chosen = orders.filter(pk=int(pk)).first()
        except (TypeError, ValueError):
            chosen = None
        if chosen:
            return chosen
    return orders.order_by("-placed_at", "-id").first()


def preview_context(order: Order | None) -> dict[str, str]:
    if order is None:
        return dict(SAMPLE_CONTEXT)
    return message_context(order=order, extra=PREVIEW_EXTRA)


def template_send_test(template: MessageTemplate, *, to: str, order: Order | None = None) -> str:
    """Send an email template, rendered against `order` (default: the store's newest), to `to`.

    Nothing is written to the outbox: the channel gets an unsaved Message (no customer, so no
    unsubscribe link that could opt a real customer out). Returns the Message-ID; raises
    TemplateRenderError or ChannelError."""
    order = order or newest_order(template.store)
    rendered = render_message(template, preview_context(order))
    message = Message(
        store=template.store,
        order=order,
        kind=template.kind,
        channel=Channel.EMAIL,
        to=to,
        subject=f"[Test] {rendered.subject}",
        body_text=rendered.text,
        body_html=rendered.html,
    )
    return EmailChannel().send(message)


# --- Templates --------------------------------------------------------------------------------------------------


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ("store", "kind", "channel", "is_active", "subject", "body_text", "body_html")
        widgets = {
            "body_text": forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField", "spellcheck": "true"}),
            "body_html": forms.Textarea(attrs={"rows": 12, "class": "vLargeTextField"}),
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        hint = " Placeholders such as {{ first_name }} are listed below."
        for name in ("subject", "body_text", "body_html"):
            if name not in self.fields:  # a view-only page has no form fields
                continue
            self.fields[name].help_text = f"{self.fields[name].help_text}{hint}"

    def clean(self) -> dict:
        cleaned = super().clean()
        candidate = MessageTemplate(
            channel=cleaned.get("channel") or self.instance.channel,
            subject=cleaned.get("subject") or "",
            body_text=cleaned.get("body_text") or "",
            body_html=cleaned.get("body_html") or "",
        )
        try:
            validate_template(candidate)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field not in self.errors:
                    self.add_error(field, errors)
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ("__str__", "store", "kind", "channel", "is_active", "updated_at", "sms_length")
    list_filter = ("store", "kind", "channel", "is_active")
    list_select_related = ("store",)
    search_fields = ("subject", "body_text")
    fieldsets = (
        (None, {"fields": ("store", "kind", "channel", "is_active")}),
        ("What it says", {"fields": ("subject", "body_text", "body_html")}),
    )
    actions = ["send_test_to_me"]

    @admin.display(description="SMS length (sample values)")
    def sms_length(self, template: MessageTemplate) -> str:
        return template_sms_length(template) if template.channel == Channel.SMS else "—"

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="notifications_messagetemplate_preview",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: MessageTemplate | None = None,
    ) -> HttpResponse:
        context["placeholders"] = PLACEHOLDERS.items()
        if obj is not None and obj.pk:
            context["preview_url"] = reverse("admin:notifications_messagetemplate_preview", args=[obj.pk])
            context["preview_orders"] = (
                Order.objects.filter(store_id=obj.store_id)
                .select_related("customer")
                .order_by("-placed_at", "-id")[:PREVIEW_ORDER_CHOICES]
            )
            if obj.channel == Channel.SMS:
                context["saved_sms_length"] = template_sms_length(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The template rendered against a real order of its store: the saved version (GET, `?order=<pk>`)
        or the change form's unsaved edits (POST). Shown in the change form's sandboxed iframe."""
        saved = get_object_or_404(MessageTemplate.objects.select_related("store"), pk=pk)
        if not self.has_view_permission(request, saved):
            raise PermissionDenied
        template, order_pk = saved, request.GET.get("order")
        if request.method == "POST":
            data, fields = request.POST, self.form.base_fields
            # Each text part as saving the form would store it (Django keeps the browser's CRLF line breaks;
            # rendering turns every line break into "\n", so an SMS never pays two characters for one).
            template = MessageTemplate(
                pk=saved.pk,
                store=saved.store,
                kind=data.get("kind") if data.get("kind") in MessageKind.values else saved.kind,
                channel=data.get("channel") if data.get("channel") in Channel.values else saved.channel,
                **{name: fields[name].to_python(data.get(name, "")) for name in ("subject", "body_text", "body_html")},
            )
            order_pk = data.get("_preview_order") or order_pk
        order = newest_order(saved.store, order_pk)
        return _preview_response(template, order)

    @admin.action(description="Send a test to me", permissions=["change"])
    def send_test_to_me(self, request: HttpRequest, queryset: QuerySet) -> None:
        to = request.user.email
        if not to:
            self.message_user(request, "Your user has no email address: add one to receive tests.", messages.ERROR)
            return
        for template in queryset.select_related("store"):
            if template.channel != Channel.EMAIL:
                self.message_user(request, f"{template}: only email templates can be sent as a test.", messages.WARNING)
                continue
            try:
                template_send_test(template, to=to)
            except (TemplateRenderError, ChannelError) as exc:
                self.message_user(request, f"{template}: not sent. {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{template}: test sent to {to}.", messages.SUCCESS)


@xframe_options_sameorigin
def _preview_response(template: MessageTemplate, order: Order | None) -> HttpResponse:
    notes: dict[str, str] = {
        "Order": f"{order.order_number} ({order.customer or 'no customer'})" if order else "none yet: sample values",
        "Note": "action and offer show sample values: playbooks fill them in real messages.",
    }
    try:
        validate_template(template)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            notes[f"Error in {MessageTemplate._meta.get_field(field).verbose_name}"] = " ".join(errors)
    try:
        rendered = render_message(template, preview_context(order))
    except TemplateRenderError as exc:
        rendered = Rendered(subject="", text="", html="")
        notes["Cannot render"] = str(exc)
    if template.channel == Channel.SMS:
        # The bubble is what this order's customer would get; the change form's figure (X-SMS-Length)
        # is measured with the sample values, like the saved one.
        text = sms_body(rendered.text)
        label = f"Length for {order.order_number}" if order else "Length (sample values)"
        notes[label] = describe_length(sms_segments(text))
        response = HttpResponse(_sms_preview_html(template, text, notes))
        response["X-SMS-Length"] = template_sms_length(template)
    else:
        customer = order.customer if order else None
        header = {
            "From": from_header(template.store),
            "To": customer.email if customer and customer.email else "the customer",
            "Subject": rendered.subject,
            **notes,
        }
        response = HttpResponse(
            branded_html(
                store=template.store,
                kind=template.kind,
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                unsubscribe="" if template.kind in TRANSACTIONAL_KINDS else "#unsubscribe",
                preview=header,
                preview_text=rendered.text,
            )
        )
    # The HTML is a manager's own: shown as a sandboxed document, never with the admin's privileges.
    response["Content-Security-Policy"] = "sandbox"
    return response


def _sms_preview_html(template: MessageTemplate, text: str, notes: dict[str, str]) -> str:
    rows = format_html_join("", "<div><strong>{}:</strong> {}</div>", notes.items())
    return format_html(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SMS preview</title></head>'
        "<body style=\"margin:0;font:15px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Arial,sans-serif;"
        'background:#f3f4f6">'
        '<div style="font-size:13px;background:#fffbeb;border-bottom:1px solid #fcd34d;padding:8px 16px">{}</div>'
        '<div style="padding:24px"><div style="font-size:12px;color:#6b7280;margin-bottom:6px">{}</div>'
        '<div style="display:inline-block;max-width:22rem;background:#e5e7eb;border-radius:18px;padding:10px 14px;'
        'white-space:pre-wrap;overflow-wrap:anywhere">{}</div></div></body></html>',
        rows,
        template.store.name,
        text,
    )


# --- Settings -----------------------------------------------------------------------------------------------------


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "store", "quiet_start", "quiet_end", "max_per_order_per_day", "max_per_customer_per_week",
        "merge_window_minutes",
    )  # fmt: skip
    list_select_related = ("store",)


# --- Outbox -----------------------------------------------------------------------------------------------------------


WHEN_FIELDS = (
    "detected_at", "created_at", "scheduled_for", "claimed_at", "sent_at", "delivered_at", "time_to_notify_display",
)  # fmt: skip


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at", "status", "kind", "channel", "to", "order_link", "store", "sent_at", "delivered_at",
        "time_to_notify_display", "short_error",
    )  # fmt: skip
    list_filter = ("status", "kind", "channel", "store")
    list_select_related = ("order", "store")
    search_fields = ("to", "order__order_number", "provider_id", "idempotency_key")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("public_id", "store", "customer", "order_link", "kind", "channel", "to", "status")}),
        ("What was said", {"fields": ("subject", "body_text", "body_html")}),
        ("When", {"fields": WHEN_FIELDS}),
        ("Delivery", {"fields": ("urgent", "merged_into", "idempotency_key", "provider_id", "attempts", "error")}),
    )
    readonly_fields = (
        "public_id", "store", "customer", "order_link", "kind", "channel", "to", "status", "subject", "body_text",
        "body_html", "detected_at", "created_at", "scheduled_for", "claimed_at", "sent_at", "delivered_at",
        "time_to_notify_display", "urgent", "merged_into", "idempotency_key", "provider_id", "attempts", "error",
    )  # fmt: skip
    actions = ["mark_reviewed_sent", "mark_reviewed_not_sent"]

    @admin.display(description="Order", ordering="order__order_number")
    def order_link(self, message: Message) -> str:
        if not message.order_id:
            return "—"
        url = reverse("admin:orders_order_change", args=[message.order_id])
        return format_html('<a href="{}">{}</a>', url, message.order.order_number)

    @admin.display(description="Time to notify")
    def time_to_notify_display(self, message: Message) -> str:
        seconds = message.time_to_notify
        if seconds is None:
            return "—"
        minutes, secs = divmod(round(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min {secs} s" if minutes else f"{secs} s"

    @admin.display(description="Error")
    def short_error(self, message: Message) -> str:
        return (message.error[:80] + "…") if len(message.error) > 80 else (message.error or "—")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_message")

    @admin.action(description="Mark reviewed: was sent", permissions=["review"])
    def mark_reviewed_sent(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, queryset, sent=True)

    @admin.action(description="Mark reviewed: not sent", permissions=["review"])
    def mark_reviewed_not_sent(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, queryset, sent=False)

    def _review(self, request: HttpRequest, queryset: QuerySet, *, sent: bool) -> None:
        """Settle messages whose outcome was unknown, after checking with the provider."""
        now = timezone.now()
        outcome = "was sent" if sent else "was not sent"
        note = f"Reviewed by {request.user.get_username()} on {now:%Y-%m-%d %H:%M %Z}: {outcome}."
        done = 0
        for message in queryset.filter(status=MessageStatus.REVIEW):
            values = {
                "status": MessageStatus.SENT if sent else MessageStatus.FAILED,
                "error": f"{message.error}\n{note}".strip(),
            }
            if sent and not message.sent_at:
                values["sent_at"] = message.claimed_at or now
            done += Message.objects.filter(pk=message.pk, status=MessageStatus.REVIEW).update(**values)
        skipped = queryset.count() - done
        self.message_user(request, f"{done} message{'s' if done != 1 else ''} marked as {outcome}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} not awaiting review: left unchanged.", messages.WARNING)
