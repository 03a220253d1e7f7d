"""The hand-off: work a request leaves to a thread of its process (a webhook's drain job), done once per key
per pass, never lost while the process lives, and handed over when it shuts down."""

from __future__ import annotations

import logging
import os
import threading
import time

import django_rq
import pytest

from cxhub.handoff import Handoff
from tests.factories import StoreFactory
from tests.orders.test_webhooks import EASYPOST_JOURNEY, EASYPOST_SECRET, post_easypost
from tests.reliability.helpers import wait_until


def test_work_asked_for_many_times_before_a_pass_is_done_once_per_key_the_latest_asked():
    handoff, done = Handoff(threaded=False), []
    for i in range(3):
        handoff.request("drain", lambda i=i: done.append(("drain", i)))
    handoff.request("outbox", lambda: done.append(("outbox", 0)))

    assert handoff.run_pending() == 2
    assert done == [("drain", 2), ("outbox", 0)]
    assert handoff.run_pending() == 0  # nothing twice


def test_work_asked_for_during_a_pass_is_done_by_the_next_pass():
    handoff, done = Handoff(threaded=False), []

    def first() -> None:
        done.append("first")
        handoff.request("drain", lambda: done.append("asked during the pass"))  # a webhook arriving meanwhile

    handoff.request("drain", first)

    assert handoff.run_pending() == 1
    assert handoff.run_pending() == 1
    assert done == ["first", "asked during the pass"]


def test_work_that_fails_is_logged_and_the_rest_of_the_pass_still_runs(caplog):
    handoff, done = Handoff(threaded=False), []
    handoff.request("drain", lambda: 1 / 0)
    handoff.request("outbox", lambda: done.append("outbox"))

    with caplog.at_level(logging.ERROR, logger="cxhub.handoff"):
        assert handoff.run_pending() == 2

    assert done == ["outbox"]
    assert "handing off 'drain' failed: the reconcilers will find its work" in caplog.text


def test_the_thread_does_a_burst_in_a_few_passes_and_always_after_the_last_request(handoff_thread):
    done: list[int] = []
    for i in range(500):
        handoff_thread.request("drain", lambda i=i: done.append(i))
        time.sleep(0.0002)

    wait_until(lambda: done and done[-1] == 499, timeout=5, what="the pass after the last request")
    assert 1 <= len(done) < 100  # a pass at most every 50 ms, not one per request
    assert done == sorted(done)


def test_closing_hands_over_what_is_pending_and_stops_the_thread():
    handoff, done = Handoff(), []
    handoff.request("drain", lambda: done.append("started the thread"))
    wait_until(lambda: done, timeout=5, what="the first pass")
    thread = handoff._thread
    handoff.request("drain", lambda: done.append("asked just before shutting down"))

    handoff.close()

    assert done == ["started the thread", "asked just before shutting down"]
    assert thread is not None and not thread.is_alive()


def test_a_forked_child_has_a_thread_of_its_own():
    handoff = Handoff()
    handoff.request("warm", lambda: None)  # the parent's thread runs, and is not copied into a child
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its hand-off must work without the parent's thread or lock
        try:
            written = threading.Event()
            handoff.request("drain", lambda: (os.write(write_end, b"child"), written.set()))
            written.wait(5)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read_end, 16) == b"child"
    finally:
        os.waitpid(pid, 0)
        os.close(read_end)
        handoff.close()


@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_answered_before_its_drain_is_queued_and_the_thread_queues_one_for_a_burst(client, handoff_thread):
    StoreFactory(easypost_webhook_secret=EASYPOST_SECRET)
    queue = django_rq.get_queue("default")

    for name in EASYPOST_JOURNEY:
        assert post_easypost(client, name).status_code == 200

    wait_until(lambda: queue.count == 1, timeout=5, what="the drain job")
    time.sleep(0.2)  # the passes after it queue nothing more: the drain has not started
    assert [job.func_name for job in queue.get_jobs()] == ["orders.jobs.inbound_drain_job"]


def test_when_the_thread_never_runs_a_request_does_the_stalled_work_itself_and_says_so(caplog, monkeypatch):
    handoff, done = Handoff(stalled_after=0.05), []
    monkeypatch.setattr(handoff, "_run", lambda: None)  # as under a server that runs no Python threads
    handoff.request("drain", lambda: done.append("first"))
    assert done == []

    time.sleep(0.1)
    with caplog.at_level(logging.WARNING, logger="cxhub.handoff"):
        handoff.request("drain", lambda: done.append("after the stall"))

    assert done == ["after the stall"]  # the latest work for the key, once
    assert "the hand-off thread is not running" in caplog.text
