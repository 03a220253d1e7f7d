"""Work a request leaves to a background thread of its process, so that it can answer at once.

A webhook answers as soon as its delivery is stored. Queueing the job that applies it is a call to Redis
that need not hold the answer: each webhook made one, a fifth of its CPU in the web process
(bench/README.md), and a Redis that hangs held answers up to its timeout. A request names its work by a
key instead; this thread does each key's latest work at most every INTERVAL_SECONDS, and always after the
last request that asked for it, so a burst of webhooks costs Redis a few calls a second per process.

Only nudges belong here, for work already stored: what a process exits or dies holding is found by the
reconcilers, as when Redis was down.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

logger = logging.getLogger(__name__)

# At most this often per key and process: the work is queueing a coalesced job, which Redis keeps until a
# worker starts it, so asking more often would only repeat the same answer.
INTERVAL_SECONDS = 0.05
# Work left pending this long means the thread is not running (a server that runs no Python threads, such as
# uWSGI without --enable-threads): the next request does the pass itself. Longer than a pass can take (a
# Redis that hangs is given up on after 2 s, then left alone).
STALLED_SECONDS = 5.0


class Handoff:
    """Keyed work for one thread of this process. `threaded=False` leaves it to run_pending() callers."""

    def __init__(self, *, threaded: bool = True, stalled_after: float = STALLED_SECONDS) -> None:
        self.threaded = threaded
        self.stalled_after = stalled_after
        self._reset()
        reset = weakref.WeakMethod(self._reset)
        os.register_at_fork(after_in_child=lambda: (method := reset()) and method())

    def _reset(self) -> None:
        # Also in a forked child: it has no thread of its own yet, and the parent's lock may be held.
        self._lock = threading.Lock()
        self._pending: dict[str, Callable[[], object]] = {}
        self._asked = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._pending_since = 0.0
        self._stall_logged = False

    def request(self, key: str, work: Callable[[], object]) -> None:
        """Have `work()` done soon, once for every key however often it is asked for meanwhile."""
        now = time.monotonic()
        with self._lock:
            if not self._pending:
                self._pending_since = now
            self._pending[key] = work
            if self.threaded and self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="cxhub-handoff", daemon=True)
                self._thread.start()
            stalled = self.threaded and now - self._pending_since > self.stalled_after
        self._asked.set()
        if stalled:
            if not self._stall_logged:
                self._stall_logged = True
                logger.warning("the hand-off thread is not running (does the WSGI server run Python threads?): "
                               "requests queue their work themselves, late")  # fmt: skip
            self.run_pending()

    def run_pending(self) -> int:
        """Do the work asked for so far, in the calling thread; returns how much there was.

        Work asked for after this takes the pending set sets the event again: the next pass does it."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._asked.clear()
        for key, work in pending.items():
            try:
                work()
            except Exception:
                logger.exception("handing off %r failed: the reconcilers will find its work", key)
        return len(pending)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread after its pass and do what is still pending in the calling thread: a process
        shutting down (gunicorn's SIGTERM) hands over what it holds instead of leaving it to the reconcilers."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._asked.set()
        if thread is not None:
            thread.join(timeout)
        self.run_pending()

    def _run(self) -> None:
        while not self._closed:
            self._asked.wait()
            self.run_pending()
            time.sleep(INTERVAL_SECONDS)


HANDOFF = Handoff()
atexit.register(lambda: HANDOFF.close())
