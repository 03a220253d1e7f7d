"""`make demo` (manage.py run_demo): stopping it stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.reliability.helpers import children_of, wait_until
from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_web_server_worker_and_scheduler_it_started(tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "DEBUG": "true"}
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "run_demo", "--port", str(port), "--orders", "3"],
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

        demo.send_signal(signal.SIGTERM)
        demo.wait(60)

        assert not [pid for pid in children if running(pid)]
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in children:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
