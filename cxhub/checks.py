"""System checks for running the hub in production (`manage.py check --deploy`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.caches, deploy=True)
def shared_cache_check(app_configs: object = None, **kwargs: object) -> list[Warning]:
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("LocMemCache"):
        return [
            Warning(
                "The cache is per process, so each web process counts tracking-page lookups on its own and the "
                "rate limits are weaker than configured.",
                hint="Set CACHE_URL to a shared Redis cache, e.g. rediscache://127.0.0.1:6379/1.",
                id="cxhub.W001",
            )
        ]
    return []


@register(deploy=True)
def public_base_url_check(app_configs: object = None, **kwargs: object) -> list[Warning]:
    """Every link a customer gets (tracking, returns, unsubscribe) starts with PUBLIC_BASE_URL."""
    url = urlsplit(settings.PUBLIC_BASE_URL)
    if url.scheme != "https" or url.hostname in {"localhost", "127.0.0.1", "::1"}:
        return [
            Warning(
                f"PUBLIC_BASE_URL is {settings.PUBLIC_BASE_URL}: the links in customers' messages would point there.",
                hint="Set PUBLIC_BASE_URL to the hub's public HTTPS address, e.g. https://cx.example.com.",
                id="cxhub.W002",
            )
        ]
    return []
