"""Long work started in the admin, done by a worker and watched on its page: a CSV import, a sandbox run.

Such work may outlast a web request behind a proxy, so the admin only stores it (a `BackgroundRun` row,
queued) and a worker does it on the `low` queue, writing how far it got every few seconds; the run's page
polls that and shows a progress bar, then the result. Each kind of run is a model and a `Runner`:

- `Runner.start` stores the run and queues its job; the job calls `Runner.execute` with the work to do.
- A worker that dies mid-run leaves a run whose heartbeat stops; `Runner.recover` (a cron job) queues it
  again, as it does a run still queued long after its job should have started (Redis lost the job). The
  work must be safe to do twice (an import duplicates nothing; a sandbox run changes nothing).
- Each attempt carries its number: a worker that was presumed dead and wakes up finds its attempt
  superseded at its next progress report and stops without writing, so two attempts never race.
- A failed run keeps what it needs to run again (`Runner.retry`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

RUN_QUEUE = "low"
# A worker writes its progress (and shows it is alive) at most this often: every item would cost as much
# as the item.
HEARTBEAT_EVERY = timedelta(seconds=2)
# A run still queued after this long may have lost its job (Redis restarted empty); queueing it again is
# harmless, since only one attempt at a time can claim it.
QUEUED_GRACE = timedelta(minutes=2)


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BackgroundRun(models.Model):
    """What every run records: where it stands, its attempts and heartbeat, and how far it got."""

    # What the run counts, for "12 of 40 rows": set by each kind.
    unit = "item"
    # What its page says between being claimed and the first item done.
    starting_text = "Starting…"

    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last progress a worker reported.")
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True, help_text="Why the run stopped, when it did not finish.")

    class Meta:
        abstract = True

    @property
    def finished(self) -> bool:
        return self.state in (RunState.DONE, RunState.FAILED)

    @property
    def percent_done(self) -> int:
        if self.state == RunState.DONE:
            return 100
        return min(100, self.done * 100 // self.total) if self.total else 0

    @property
    def progress_text(self) -> str:
        """What the run's page says of a run not finished (also what its polling shows)."""
        if self.state == RunState.QUEUED:
            return "Waiting for a worker…"
        if self.done:
            return f"{self.done} of {self.total} {self.unit}s ({self.percent_done}%)"
        return self.starting_text

    def progress_json(self) -> dict[str, Any]:
        """What the run's page polls."""
        return {
            "state": self.state,
            "state_label": self.get_state_display(),
            "done": self.done,
            "total": self.total,
            "percent": self.percent_done,
            "text": self.progress_text,
            "finished": self.finished,
        }


class Superseded(Exception):
    """This attempt was presumed dead and the run handed to another one: stop without writing."""


class Progress:
    """Counts what an attempt has done and writes it with a heartbeat every HEARTBEAT_EVERY.

    Raises Superseded when the run is no longer this attempt's."""

    def __init__(self, runner: Runner, run_id: int, attempt: int) -> None:
        self.runner, self.run_id, self.attempt = runner, run_id, attempt
        self.done = 0
        self.written_at = timezone.now()

    def set_total(self, total: int) -> None:
        if not self.runner.mine(self.run_id, self.attempt).update(total=total, heartbeat_at=timezone.now()):
            raise Superseded

    def add(self, done: int) -> None:
        self.done += done
        now = timezone.now()
        if now - self.written_at < HEARTBEAT_EVERY:
            return
        self.written_at = now
        if not self.runner.mine(self.run_id, self.attempt).update(done=self.done, heartbeat_at=now):
            raise Superseded


@dataclass(frozen=True)
class Runner:
    """How one kind of run is queued, claimed, watched and recovered."""

    model: type[BackgroundRun]
    job: str  # the dotted path of the RQ job that calls `execute` with the run's id
    # A run whose worker said nothing for this long has lost its worker.
    lease: timedelta
    # A long run is long, not stuck: RQ would otherwise stop it after the queue's default timeout.
    job_timeout: timedelta

    def start(self, **fields: Any) -> BackgroundRun:
        run = self.model.objects.create(**fields)
        self.queue(run.pk)
        return run

    def queue(self, run_id: int) -> None:
        from .jobs import enqueue  # models import this module; the queues are not needed to define them

        enqueue(RUN_QUEUE, import_string(self.job), run_id, job_timeout=int(self.job_timeout.total_seconds()))

    def execute(self, run_id: int, work: Callable[[Any, Progress], dict[str, Any]]) -> str:
        """Do `work(run, progress)` for a queued run (or one whose worker died) and store the fields it returns
        with the run, done. Returns the state the run ends in; a run another attempt holds, or one
        finished already, is left alone."""
        attempt = self.claim(run_id)
        if attempt is None:
            return self.model.objects.filter(pk=run_id).values_list("state", flat=True).first() or "missing"
        run = self.model.objects.get(pk=run_id)
        label = f"{self.model._meta.verbose_name} {run_id}"
        try:
            fields = work(run, Progress(self, run_id, attempt))
        except Superseded:
            logger.warning("%s: attempt %s was superseded by a newer one; stopped", label, attempt)
            return RunState.RUNNING
        except Exception as exc:
            # A bug or an outage the work did not foresee: recorded on the run, which can be run again.
            logger.exception("%s failed", label)
            self.finish(run_id, attempt, state=RunState.FAILED, failure=f"{type(exc).__name__}: {exc}")
            return RunState.FAILED
        self.finish(run_id, attempt, state=RunState.DONE, **fields)
        return RunState.DONE

    def claim(self, run_id: int) -> int | None:
        """Take the run for a new attempt (queued, or running with a silent worker). Returns the attempt's number."""
        now = timezone.now()
        claimed = self.model.objects.filter(
            Q(state=RunState.QUEUED) | Q(state=RunState.RUNNING, heartbeat_at__lt=now - self.lease), pk=run_id
        ).update(state=RunState.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now, done=0)
        if not claimed:
            return None
        return self.model.objects.values_list("attempts", flat=True).get(pk=run_id)

    def mine(self, run_id: int, attempt: int) -> models.QuerySet:
        return self.model.objects.filter(pk=run_id, attempts=attempt, state=RunState.RUNNING)

    def finish(self, run_id: int, attempt: int, *, state: str, **fields: Any) -> None:
        now = timezone.now()
        self.mine(run_id, attempt).update(state=state, finished_at=now, heartbeat_at=now, **fields)

    def retry(self, run_id: int) -> bool:
        """Queue a failed run again (after the fix). Returns whether it was failed."""
        again = self.model.objects.filter(pk=run_id, state=RunState.FAILED).update(
            state=RunState.QUEUED, failure="", done=0, heartbeat_at=None, finished_at=None
        )
        if again:
            self.queue(run_id)
        return bool(again)

    def recover(self, *, now: datetime | None = None) -> int:
        """Queue again the runs whose job was lost or whose worker died. Returns how many."""
        now = now or timezone.now()
        stalled = list(
            self.model.objects.filter(
                Q(state=RunState.QUEUED, created_at__lt=now - QUEUED_GRACE)
                | Q(state=RunState.RUNNING, heartbeat_at__lt=now - self.lease)
            ).values_list("pk", flat=True)
        )
        for pk in stalled:
            self.queue(pk)
        return len(stalled)
