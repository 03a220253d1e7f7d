from django.core.management.base import BaseCommand, CommandParser

from orders.models import Store
from playbooks.defaults import caps_seed, playbooks_seed


class Command(BaseCommand):
    help = "Create the default playbooks (the ten automations and the VIP play) and every store's default caps."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--draft", action="store_true", help="Create new playbooks as drafts, not active.")

    def handle(self, *args: object, draft: bool, **options: object) -> None:
        playbooks = playbooks_seed(activate=not draft)
        caps = sum(caps_seed(store) for store in Store.objects.all())
        self.stdout.write(self.style.SUCCESS(f"{playbooks} playbooks and {caps} caps created."))
