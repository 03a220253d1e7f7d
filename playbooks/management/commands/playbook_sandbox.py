import json
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from playbooks.models import Playbook
from playbooks.sandbox import playbook_sandbox, sandbox_cases


def parse_day(value: str) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    return timezone.make_aware(datetime.combine(day, time.min))


class Command(BaseCommand):
    help = "Show what a playbook (draft or active) would have done on past exceptions. Changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("playbook", help="Playbook id or exact name.")
        parser.add_argument("--since", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--until", required=True, help="Day after the last, YYYY-MM-DD.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the report as JSON.")

    def handle(self, *args: object, playbook: str, since: str, until: str, as_json: bool, **options: object) -> None:
        found = (
            Playbook.objects.filter(pk=int(playbook)) if playbook.isdigit() else Playbook.objects.filter(name=playbook)
        )
        chosen = found.first()
        if chosen is None:
            raise CommandError(f"no playbook {playbook!r}")
        start, end = parse_day(since), parse_day(until)
        if end <= start:
            raise CommandError("--until must be after --since")
        total = sandbox_cases(chosen, since=start, until=end).count()
        with tqdm(total=total, desc="Simulating", unit="exception", file=self.stderr) as bar:
            report = playbook_sandbox(chosen, since=start, until=end, progress=bar.update)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        r = report
        by_action = {k: str(v) for k, v in r.compensation_by_action.items()}
        lines = [
            f"Sandbox: {r.playbook}, {since} to {until} (nothing was changed)",
            f"  exceptions of its type:   {r.exceptions}",
            f"  matching its conditions:  {r.matched} ({r.held_out} held out)",
            f"  actions:                  {dict(r.actions) or '-'}",
            f"  messages by channel:      {dict(r.messages_by_channel) or '-'}",
            f"  compensation, automatic:  {r.compensation_total} {by_action or ''}",
            f"  approvals needed:         {r.approvals_needed} for {r.approval_amount} {dict(r.approvals_by_cap)}",
            f"  repeats held back:        {r.repeats_held_back} ({r.not_reopened} not opened again, "
            f"{r.messages_not_repeated} messages not sent again, {r.repeats_to_approval} remedies to approval "
            f"for {r.repeat_amount})",
        ]
        self.stdout.write("\n".join(lines))
