from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.models import ApiToken, Store


class Command(BaseCommand):
    help = "Issue a REST API token for one store and print its key. The key is shown only this once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("store_slug", metavar="STORE_SLUG", help="The store the token acts for.")
        parser.add_argument("--name", required=True, help="Who uses it, e.g. 'Warehouse WMS'.")

    def handle(self, *args: object, store_slug: str, name: str, **options: object) -> None:
        store = Store.objects.filter(slug=store_slug).first()
        if store is None:
            known = ", ".join(Store.objects.order_by("slug").values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No store with slug {store_slug!r} (stores: {known}).", returncode=2)
        name = name.strip()
        if not name:
            raise CommandError("--name must not be blank.", returncode=2)
        token, key = ApiToken.issue(store=store, name=name[:100])
        self.stderr.write(f"Token {token} for {store.name}. Copy the key now: it cannot be shown again.")
        self.stdout.write(key)
