from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from insights.demo import demo_history_seed
from orders.demo import demo_anchor, demo_seed, demo_stores


class Command(BaseCommand):
    help = (
        "Create (or refresh) two demo brands with customers, orders, shipments and tickets, and the hub's past "
        "month with them (what its playbooks did), so that the KPIs have a history. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=300, help="How many orders (default 300).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed: the same seed gives the same data.")

    def handle(self, *args: object, orders: int, seed: int, **options: object) -> None:
        if orders < 0:
            self.stderr.write("--orders must be 0 or more")
            raise SystemExit(2)
        anchor = demo_anchor()
        with tqdm(total=orders, desc="Seeding orders", unit="order", file=self.stderr, disable=orders == 0) as bar:
            result = demo_seed(orders=orders, seed=seed, anchor=anchor, progress=bar.update)
        # What the hub did with these orders before now (exceptions, messages, answers): above the orders app, which
        # knows nothing of playbooks, so this door reaches up to insights, which reads them all.
        history = demo_history_seed(stores=demo_stores(), anchor=anchor, seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.stores} stores, {result.orders} orders, {result.shipments} shipments, "
                f"{result.tickets} tickets (seed {seed}); the hub's past month: {history.cases} exceptions, "
                f"{history.messages} messages sent, {history.tickets} tickets from customers told nothing, "
                f"{history.answers} survey answers."
            )
        )
