"""`make demo` (manage.py run_demo): its messages link to the demo's address, and stopping it stops
everything it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.project import manage
from tests.reliability.helpers import children_of, wait_until
from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


LINKS = """
import re
from notifications.models import Message
print(sorted({link for m in Message.objects.all() for link in re.findall(r"https?://[^/]+", m.body_text)}))
"""


def test_the_demo_data_links_to_the_port_it_runs_on_and_sigterm_twice_stops_what_it_started(tmp_path):
    port = free_port()
    database = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    session = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}  # the demo's own, not the tests'
    env = {**session, "DATABASE_URL": database, "DEBUG": "true"}
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "run_demo", "--port", str(port), "--orders", "20"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: list[int] = []
    try:
        wait_for_port(port, timeout=180)
        # runserver, rqworker, rqcron (Redis is the test suite's)
        wait_until(lambda: len(children_of(demo.pid)) == 3, timeout=30, what="the demo's three processes", poll=0.2)
        children = children_of(demo.pid)
        # The messages the set-up composed (returns' updates among them) carry links to this demo.
        links = manage("shell", "-c", LINKS, env={"DATABASE_URL": database, "DEBUG": "true"}).stdout
        assert re.findall(r"'([^']+)'", links.strip().splitlines()[-1]) == [f"http://127.0.0.1:{port}"]

        demo.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # while it stops its children, a second one (a supervisor's, `timeout`'s) comes
        demo.send_signal(signal.SIGTERM)
        demo.wait(60)

        assert not [pid for pid in children if running(pid)]
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in children:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
