"""`make demo` (manage.py run_demo): stopping it stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


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
        deadline = time.monotonic() + 30
        while len(children := children_of(demo.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(children) == 3  # runserver, rqworker, rqcron (Redis is the test suite's)

        demo.send_signal(signal.SIGTERM)
        demo.wait(60)

        assert not [pid for pid in children if running(pid)]
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in children:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
