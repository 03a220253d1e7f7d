"""System checks for running the hub in production (`manage.py check --deploy`)."""

from __future__ import annotations

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
