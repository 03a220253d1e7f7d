from django.core.management.base import BaseCommand, CommandParser

from playbooks.detectors import DETECTORS_PATHS
from playbooks.engine import detector_sweep


class Command(BaseCommand):
    help = "Run the detectors' sweeps now: open exceptions for new candidates, resolve cleared ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--detector", choices=sorted(DETECTORS_PATHS), help="Only this detector.")

    def handle(self, *args: object, detector: str | None, **options: object) -> None:
        kinds = [detector] if detector else list(DETECTORS_PATHS)
        self.stdout.write(f"{'detector':<24}{'candidates':>11}{'opened':>8}{'resolved':>9}{'ms':>7}")
        for kind in kinds:
            run = detector_sweep(kind)
            if run is None:
                self.stdout.write(f"{kind:<24}{'disabled':>11}")
                continue
            self.stdout.write(f"{kind:<24}{run.candidates:>11}{run.opened:>8}{run.resolved:>9}{run.duration_ms:>7}")
