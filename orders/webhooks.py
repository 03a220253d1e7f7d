"""POST /webhooks/<source>/ (or without the trailing slash) — the door for Shopify, EasyPost, AfterShip and Stripe.

Thin: hands the raw body and headers to orders.ingest and answers as it says. CSRF-exempt because
providers sign their requests instead.
"""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from cxhub.errors import post_only

from .ingest import inbound_receive


@csrf_exempt
@post_only
def receive_webhook(request: HttpRequest, source: str) -> JsonResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if declared.isdigit() and int(declared) > limit:
        # Refuse before reading a body that is too large.
        return JsonResponse({"error": f"body larger than {limit} bytes"}, status=413)
    answer = inbound_receive(
        source=source, body=request.body, headers=request.headers, store_slug=request.GET.get("store", "")
    )
    return JsonResponse(answer.body, status=answer.status)
