"""Settings for the benchmarks: the project's own settings, unchanged but for what a benchmark needs.

Everything else (database, Redis, Twilio) still comes from the environment, which `python -m bench`
points at the throwaway servers it starts. DEBUG stays off: with it on, Django keeps every query in
memory and serves slower pages, which would measure nothing a customer ever sees.
"""

from cxhub.settings import *  # noqa: F403

DEBUG = False
# The project's URLs plus one bare JSON view, the yardstick for the webhook endpoint.
ROOT_URLCONF = "bench.urls"
# Requests carry X-Forwarded-Proto: https like behind the production proxy, so the HTTPS redirect
# stays on and is exercised (it answers nothing but passes every request through SecurityMiddleware).
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Workers log every job at INFO: thousands of lines a second would cost more than the jobs themselves.
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
