"""`manage.py` in a subprocess, as a new user or an operator runs it: with the project's own defaults
(the SQLite demo database, no Redis), not the test session's PostgreSQL and Redis."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the test session sets, dropped so the subprocess sees the project's defaults.
SESSION = {
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "ALLOWED_HOSTS",
    "PUBLIC_BASE_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # the browser tests need it; production never has it
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`manage.py ARGS` with `env` over the environment the session did not set."""
    clean = {k: v for k, v in os.environ.items() if k not in SESSION}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def demo_env(database: Path, **extra: str) -> dict[str, str]:
    """The demo's settings on a fresh SQLite file at `database`, with `extra` on top."""
    return {"DATABASE_URL": f"sqlite:///{database}", "DEBUG": "true", **extra}
