from django.core.management.base import BaseCommand

from orders.models import Store
from returns.defaults import policy_seed
from returns.demo import returns_seed_demo


class Command(BaseCommand):
    help = (
        "Give every store the default return policy if it has none (never overwrites an edited one). "
        "With --demo, also exchange stock and a few returns at each step for the demo stores."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--demo", action="store_true", help="Also seed demo exchange stock and returns.")

    def handle(self, *args: object, demo: bool = False, **options: object) -> None:
        policies = sum(policy_seed(store) for store in Store.objects.all())
        self.stdout.write(self.style.SUCCESS(f"{policies} return policies created."))
        if demo:
            self.stdout.write(self.style.SUCCESS(f"{returns_seed_demo()} demo returns created."))
