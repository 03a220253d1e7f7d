from django.core.management.base import BaseCommand

from notifications.defaults import templates_seed
from orders.models import Store


class Command(BaseCommand):
    help = "Give every store the default message templates it lacks (never overwrites an edited one)."

    def handle(self, *args: object, **options: object) -> None:
        created = sum(templates_seed(store) for store in Store.objects.all())
        self.stdout.write(self.style.SUCCESS(f"{created} message templates created."))
