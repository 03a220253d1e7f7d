"""Every periodic job, in one place. Run with `python manage.py rqcron cxhub.cron`.

RQ's cron is young (it may double-fire, and restarts fire interval jobs again), so every job here
is cheap when idle and safe to run twice: each one claims its work in the database.
"""

from django.conf import settings
from rq import cron

from notifications.jobs import messages_dispatch_job
from orders.jobs import erasures_recover_job, inbound_purge_job, inbound_reconcile_job, order_imports_recover_job
from playbooks.jobs import (
    approvals_escalate_job,
    incidents_watch_job,
    remedies_recover_job,
    sandbox_runs_recover_job,
    sweeps_job,
)

# Every minute: enqueue deliveries stored while Redis was down, due retries and expired claims.
cron.register(inbound_reconcile_job, queue_name="low", interval=60)
# Every SWEEP_INTERVAL_SECONDS (default 5 minutes): detectors that only time reveals.
cron.register(sweeps_job, queue_name="low", interval=settings.SWEEP_INTERVAL_SECONDS)
# Every 5 minutes: approvals left undecided past their SLA escalate.
cron.register(approvals_escalate_job, queue_name="low", interval=300)
# Every minute: work a dead worker left (cases it was planning and steps it was running, a minute after
# their claim; steps never run and cases never planned, after 10 minutes) is handed out again; providers
# and the outbox dedupe on the remedy.
cron.register(remedies_recover_job, queue_name="default", interval=60)
# Every minute: send messages held for quiet hours or merging once due; flag interrupted sends.
cron.register(messages_dispatch_job, queue_name="high", interval=60)
# Every 5 minutes: CSV imports whose job Redis lost or whose worker died are queued again.
cron.register(order_imports_recover_job, queue_name="low", interval=300)
# Every 5 minutes: erasures whose job was lost: a whole store's (Shopify's shop/redact), once it cannot be
# running, and the search for the raw webhooks naming an erased customer, 15 minutes after the erasure.
cron.register(erasures_recover_job, queue_name="low", interval=300)
# Every 5 minutes: sandbox runs likewise.
cron.register(sandbox_runs_recover_job, queue_name="low", interval=300)
# Every 15 minutes: the anomaly watch opens incidents for carriers spiking in a region.
cron.register(incidents_watch_job, queue_name="low", interval=900)
# Every hour: raw deliveries done with and past INBOUND_RETENTION_DAYS are deleted, a share at a time.
cron.register(inbound_purge_job, queue_name="low", interval=3600)
