from django.core.management.base import BaseCommand

from portal.defaults import faq_seed


class Command(BaseCommand):
    help = (
        "Create the default FAQ entries of the tracking page (shown for every store) that are missing; "
        "never overwrites an edited one."
    )

    def handle(self, *args: object, **options: object) -> None:
        created = faq_seed()
        self.stdout.write(self.style.SUCCESS(f"{created} FAQ entries created."))
