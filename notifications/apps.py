from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """The voice: message templates, channels, the outbox and customer preferences."""

    name = "notifications"
    verbose_name = "Notifications"
