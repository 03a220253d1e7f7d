"""Pytest plugin: real PostgreSQL and Redis servers on loopback for the test session.

Loaded with `-p tests.services` (see pyproject.toml) so that it runs before pytest-django reads the
settings: the servers start on free ports, and DATABASE_URL / REDIS_URL point at them. Both are
torn down at the end. Set TEST_DATABASE_URL / TEST_REDIS_URL to use servers you already run.

As root, PostgreSQL refuses to run, so it is started as the `postgres` user (Debian's packages
create it); its data directory lives in a temporary folder with fsync off — it is thrown away.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# PostgreSQL and PgBouncer refuse to run as root: as root, they run as Debian's `postgres` user.
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def find_binary(name: str) -> str:
    # Debian puts server daemons (pgbouncer) in /usr/sbin, outside a non-root PATH.
    postgresql = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin") or next(iter(postgresql), None)
    if not found:
        raise pytest.UsageError(f"{name} is not installed: run `make test` (it installs the test services) first.")
    return found


class Daemon:
    """A server run in the foreground as a child process, on a free loopback port, with a throwaway folder."""

    prefix = "cxhub-"

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=self.prefix))
        self.process: subprocess.Popen | None = None

    def spawn(self, *args: str) -> None:
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


class RedisServer(Daemon):
    prefix = "cxhub-redis-"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.spawn(find_binary("redis-server"), *options, "--dir", str(self.workdir))


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="cxhub-pg-"))
        self.datadir = self.workdir / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/cxhub"

    def _run(self, *args: str) -> None:
        subprocess.run([*AS_POSTGRES, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        if AS_POSTGRES:
            shutil.chown(self.workdir, "postgres")
        self._run(find_binary("initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
        options += "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        self._run(
            find_binary("pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.workdir / "log"),
            "-w",
            "start",
        )
        self._run(find_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "cxhub")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, pytest.UsageError):
            self._run(find_binary("pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop")
        shutil.rmtree(self.workdir, ignore_errors=True)


class PgBouncer(Daemon):
    """PgBouncer in transaction mode in front of a PostgreSQL server, with `pool_size` server connections
    shared by every client, one transaction at a time: how the README runs forking workers. Started by
    the tests that need it, not for the session. Trusts loopback, as the suite's PostgreSQL does."""

    prefix = "cxhub-pgbouncer-"

    def __init__(self, *, host: str, port: int, user: str, pool_size: int = 2) -> None:
        super().__init__()
        self.user = user
        self.server = (host, port)
        self.pool_size = pool_size

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        host, port = self.server
        (self.workdir / "users.txt").write_text(f'"{self.user}" ""\n')
        (self.workdir / "pgbouncer.ini").write_text(
            f"[databases]\n* = host={host} port={port}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.workdir}/users.txt\nadmin_users = {self.user}\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\nmax_client_conn = 200\n"
            f"stats_period = 1\nlogfile = {self.workdir}/pgbouncer.log\n"
        )
        if AS_POSTGRES:
            shutil.chown(self.workdir, "postgres")
        self.spawn(*AS_POSTGRES, find_binary("pgbouncer"), str(self.workdir / "pgbouncer.ini"))


_servers: list[RedisServer | PostgresServer] = []


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]):
    # Runs around pytest-django's own hook, which loads the settings: the URLs must be set first.
    if not os.environ.get("TEST_REDIS_URL"):
        redis = RedisServer()
        _servers.append(redis)
        redis.start()
        os.environ["TEST_REDIS_URL"] = redis.url
    if not os.environ.get("TEST_DATABASE_URL"):
        postgres = PostgresServer()
        _servers.append(postgres)
        postgres.start()
        os.environ["TEST_DATABASE_URL"] = postgres.url
    os.environ["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
    os.environ["DEBUG"] = "false"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ["PUBLIC_BASE_URL"] = "http://testserver"
    # Uploads (return photos) go to a throwaway folder, never into the checkout.
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="cxhub-test-media-")
    # Where WhiteNoise looks for collected static files (it warns at every start when the folder is missing).
    os.environ["STATIC_ROOT"] = tempfile.mkdtemp(prefix="cxhub-test-static-")
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    while _servers:
        _servers.pop().stop()
    for folder, prefix in (("MEDIA_ROOT", "cxhub-test-media-"), ("STATIC_ROOT", "cxhub-test-static-")):
        if prefix in os.environ.get(folder, ""):
            shutil.rmtree(os.environ[folder], ignore_errors=True)
