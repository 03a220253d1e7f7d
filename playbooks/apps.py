from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    """The brain: detectors, exceptions, playbooks, remedies, caps, approvals and the audit log."""

    name = "playbooks"
    verbose_name = "Playbooks and exceptions"
