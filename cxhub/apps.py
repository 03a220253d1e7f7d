from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CxhubConfig(AppConfig):
    """The project itself: settings, URLs, job wiring, health and the control-tower pages."""

    name = "cxhub"
    verbose_name = "CX hub"
    default = True

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)


class CXAdminConfig(admin_apps.AdminConfig):
    """The Django admin, branded and with a landing page for CX managers."""

    default = False
    default_site = "cxhub.admin_site.CXAdminSite"
