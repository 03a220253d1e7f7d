"""`make demo`: one command that sets the hub up on embedded defaults and runs all of it.

Starts (or finds) a Redis server on loopback, migrates, seeds demo data, creates a demo admin login,
then runs the web server, an RQ worker (with RQ's scheduler) and the RQ cron runner (cxhub/cron.py) in the
foreground. Ctrl-C (or SIGTERM) stops everything it started. Where no Redis server can be had, jobs run
in-process (RQ_SYNC) and the demo still works.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.models import Order

DEMO_USER = "admin"
DEMO_AGENT = "agent"
DEMO_ROLES = {"manager": "CX manager", DEMO_AGENT: "Agent", "analyst": "Analyst"}
DEMO_PASSWORD = "cxhub-demo"  # printed on start; the demo listens on loopback only


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_requested(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM: stop, once. A second signal (Ctrl-C pressed twice, `timeout` forwarding its own
    SIGTERM) is ignored, so it cannot cut the shutdown short and leave the web server or worker running."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the whole hub for a demo: Redis, migrations, demo data, web server, worker and scheduler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", 8000)))
        parser.add_argument("--orders", type=int, default=300)
        parser.add_argument("--no-serve", action="store_true", help="Set up and exit (used by tests).")

    def handle(self, *args: object, port: int, orders: int, no_serve: bool, **options: object) -> None:
        self.children: list[subprocess.Popen] = []
        # `kill`, a supervisor or an IDE stops the demo with SIGTERM: shut down what it started, as for Ctrl-C
        # (the children run in their own sessions, so nothing else stops them).
        signal.signal(signal.SIGTERM, stop_requested)
        signal.signal(signal.SIGINT, stop_requested)
        mail_dir = Path(settings.BASE_DIR) / ".run" / "mail"
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "true"), "PYTHONUNBUFFERED": "1"}
        # Demo emails are written to files rather than flooding the terminal (SMS needs Twilio settings).
        env.setdefault("EMAIL_URL", f"filemail:///{mail_dir}")
        env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
        env.update(self.redis_env())
        os.environ.update(env)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]

        try:
            if no_serve:
                self.set_up(orders)
                return
            # Set up in a process whose settings were read with the demo's environment: this one read them
            # before it chose the port and Redis, and the demo's messages must link to the right address.
            set_up = [*manage, "run_demo", "--no-serve", "--port", str(port), "--orders", str(orders)]
            if subprocess.run(set_up, env=env).returncode:
                raise CommandError("Setting up the demo failed: see above.")
            self.start([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env)
            if env.get("RQ_SYNC") != "true":
                self.start([*manage, "rqworker", "high", "default", "low", "--with-scheduler"], env)
                self.start([*manage, "rqcron", "cxhub.cron"], env)
            self.print_urls(port)
            self.wait()
        finally:
            self.stop_children()

    def set_up(self, orders: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if not Order.objects.exists():
            call_command("seed_demo", orders=orders, stdout=self.stdout, stderr=self.stderr)
            call_command("seed_playbooks", stdout=self.stdout)
            call_command("seed_templates", stdout=self.stdout)
            call_command("seed_faq", stdout=self.stdout)
            call_command("seed_returns", demo=True, stdout=self.stdout)
            self.stdout.write("Running the detectors over the demo data…")
            call_command("run_sweeps", stdout=self.stdout)
        self.ensure_demo_users()

    def redis_env(self) -> dict[str, str]:
        """Use REDIS_URL if something answers there; else start redis-server on loopback; else go in-process."""
        default_port = 6379
        if os.environ.get("REDIS_URL") or port_is_open(default_port):
            return {}
        binary = shutil.which("redis-server")
        if not binary:
            self.stdout.write(self.style.WARNING("No Redis server found: jobs will run in-process (RQ_SYNC)."))
            return {"RQ_SYNC": "true"}
        port = default_port
        workdir = tempfile.mkdtemp(prefix="cxhub-demo-redis-")
        self.start([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir], {}, quiet=True)
        for _ in range(100):
            if port_is_open(port):
                break
            time.sleep(0.05)
        return {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}

    def ensure_demo_users(self) -> None:
        """A superuser, and one login per role: a CX manager, an agent who may approve remedies up to 100
        in their store's currency, and an analyst."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from cxhub.roles import roles_setup
        from playbooks.models import AgentProfile

        roles_setup()
        users = get_user_model().objects
        admin, _ = users.get_or_create(username=DEMO_USER, defaults={"email": "admin@localhost"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(DEMO_PASSWORD)
        admin.save()
        for username, role in DEMO_ROLES.items():
            user, _ = users.get_or_create(username=username, defaults={"email": f"{username}@localhost"})
            user.is_staff = True
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
        AgentProfile.objects.update_or_create(user=users.get(username=DEMO_AGENT),
                                              defaults={"approval_limit": Decimal("100.00")})  # fmt: skip
        AgentProfile.objects.update_or_create(user=users.get(username="manager"),
                                              defaults={"approval_limit": Decimal("500.00")})  # fmt: skip

    def start(self, command: list[str], env: dict[str, str], quiet: bool = False) -> None:
        # A new process group per child, so Ctrl-C reaches them only through us, in order.
        output = subprocess.DEVNULL if quiet else None
        process = subprocess.Popen(command, env=env or None, start_new_session=True, stdout=output, stderr=output)
        self.children.append(process)

    def print_urls(self, port: int) -> None:
        base = f"http://127.0.0.1:{port}"
        order = Order.objects.select_related("store").order_by("-placed_at").first()
        lines = [
            "",
            "CX hub demo is running. Ctrl-C stops everything.",
            f"  Admin (control tower):  {base}/admin/   login {DEMO_USER} / {DEMO_PASSWORD}",
            f"  Approval queue:         {base}/admin/playbooks/approval/?pending=yes   "
            f"agent login {DEMO_AGENT} / {DEMO_PASSWORD} (may approve up to 100)",
            f"  Other roles:            manager / {DEMO_PASSWORD} (CX manager, approves up to 500), "
            f"analyst / {DEMO_PASSWORD} (read-only, KPIs)",
            f"  Open exceptions:        {base}/admin/playbooks/exceptioncase/?state__exact=acting",
            f"  Customer pages:         {base}/track/?store=northwind   {base}/returns/?store=lumen",
            f"  API docs:               {base}/api/docs/",
            f"  Webhooks:               {base}/webhooks/<provider>/   secrets demo-<store>-<provider>, "
            "e.g. demo-northwind-easypost",
            f"  Health:                 {base}/healthz",
            f"  Emails sent:            {Path(settings.BASE_DIR) / '.run' / 'mail'} (SMS needs TWILIO_* settings)",
        ]
        if order:
            lines.append(f"  A recent order:         {base}/admin/orders/order/{order.pk}/change/")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)) + "\n")

    def wait(self) -> None:
        try:
            while all(child.poll() is None for child in self.children):
                time.sleep(0.5)
            self.stderr.write("A demo process stopped; shutting the others down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")

    def stop_children(self) -> None:
        # One at a time, newest first: the worker and cron finish before the Redis they talk to stops.
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
