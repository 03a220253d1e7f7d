from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from orders.demo import demo_seed


class Command(BaseCommand):
    help = "Create (or refresh) two demo brands with customers, orders, shipments and tickets. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=300, help="How many orders (default 300).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed: the same seed gives the same data.")

    def handle(self, *args: object, orders: int, seed: int, **options: object) -> None:
        if orders < 0:
            self.stderr.write("--orders must be 0 or more")
            raise SystemExit(2)
        with tqdm(total=orders, desc="Seeding orders", unit="order", file=self.stderr, disable=orders == 0) as bar:
            result = demo_seed(orders=orders, seed=seed, progress=bar.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.stores} stores, {result.orders} orders, {result.shipments} shipments, "
                f"{result.tickets} tickets (seed {seed})."
            )
        )
