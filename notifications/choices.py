"""The notifications app's vocabularies. Values are stored in the database: never rename one."""

from django.db import models


class MessageKind(models.TextChoices):
    ORDER_CONFIRMED = "order_confirmed", "Order confirmed"
    SHIPPED = "shipped", "Shipped"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    DELAY = "delay", "Delay notice"
    DELAY_REMEDY = "delay_remedy", "Delay notice with a remedy"
    LOST_MAYBE = "lost_maybe", "Parcel may be lost"
    LATE_TO_SHIP = "late_to_ship", "Late to ship"
    FAILED_ATTEMPT = "failed_attempt", "Failed delivery attempt"
    ADDRESS_FIX = "address_fix", "Address needs fixing"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    POST_DELIVERY_SURVEY = "post_delivery_survey", "Post-delivery care survey"
    EXCHANGE_ON_THE_WAY = "exchange_on_the_way", "Exchange on its way"
    RETURN_UPDATE = "return_update", "Return status update"
    HELP_REPLY = "help_reply", "Reply to HELP"
    TEST = "test", "Test message"


# Time-sensitive kinds go by SMS first; the others by email first (unless the customer prefers otherwise).
TIME_SENSITIVE_KINDS = frozenset(
    {
        MessageKind.OUT_FOR_DELIVERY,
        MessageKind.DELAY,
        MessageKind.DELAY_REMEDY,
        MessageKind.LOST_MAYBE,
        MessageKind.FAILED_ATTEMPT,
        MessageKind.ADDRESS_FIX,
        MessageKind.HELP_REPLY,
    }
)
# Kinds that may go out during quiet hours: waiting would make them useless.
URGENT_KINDS = frozenset({MessageKind.OUT_FOR_DELIVERY, MessageKind.HELP_REPLY, MessageKind.TEST})
# Informational news waits the merge window, so that news arriving right after it (shipped, then out for
# delivery) replaces it instead of making the phone buzz twice.
NEWS_KINDS = frozenset({MessageKind.SHIPPED, MessageKind.DELIVERED})
# Transactional kinds carry no unsubscribe link and ignore frequency caps (the customer asked for them).
TRANSACTIONAL_KINDS = frozenset(
    {MessageKind.ORDER_CONFIRMED, MessageKind.RETURN_UPDATE, MessageKind.HELP_REPLY, MessageKind.TEST}
)


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled (quiet hours)"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Accepted by the provider"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    REVIEW = "review", "Outcome unknown: review"
    SUPPRESSED = "suppressed", "Not sent (opted out, capped or no address)"
    MERGED = "merged", "Merged into another message"
