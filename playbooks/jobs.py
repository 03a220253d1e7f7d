"""RQ jobs of the playbooks app: thin, take ids, call one service. Each is safe to run twice."""

from .anomalies import incident_wave, incidents_watch
from .approvals import approvals_escalate_overdue
from .engine import case_run_steps, cases_act, cases_recover, remedies_recover, subject_check, sweeps_run
from .sandbox import SANDBOX_RUNS, sandbox_run


def cases_act_job(case_ids: list[int]) -> int:
    """Run the playbooks of newly opened cases; returns how many failed (logged, left to recovery)."""
    return cases_act(case_ids)


def case_run_steps_job(case_id: int) -> None:
    case_run_steps(case_id)


def sweeps_job() -> int:
    return len(sweeps_run())


def facts_changed_job(shipment_ids: list[int], order_ids: list[int]) -> int:
    """A fact about these shipments/orders arrived (a webhook, the API, an import): check them now."""
    return subject_check(shipment_ids=shipment_ids, order_ids=order_ids)


def approvals_escalate_job() -> int:
    return approvals_escalate_overdue()


def remedies_recover_job() -> int:
    """What a dead worker left: unfinished or never-run remedies, and cases claimed but never planned."""
    return remedies_recover() + cases_recover()


def incidents_watch_job() -> int:
    return len(incidents_watch())


def incident_wave_job(incident_id: int) -> int:
    return incident_wave(incident_id)


def sandbox_run_job(run_id: int) -> str:
    """Try a playbook on past exceptions for the admin's sandbox: the state the run ends in."""
    return sandbox_run(run_id)


def sandbox_runs_recover_job() -> int:
    return SANDBOX_RUNS.recover()
