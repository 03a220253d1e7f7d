from django.core.management.base import BaseCommand

from cxhub.roles import roles_setup


class Command(BaseCommand):
    help = (
        "Create (or reset) the admin's groups: CX manager, Agent and Analyst. Run after every upgrade; "
        "then add people to groups in the admin (Users), and give agents an approval limit (Agent profiles)."
    )

    def handle(self, *args: object, **options: object) -> None:
        for name, count in roles_setup().items():
            self.stdout.write(self.style.SUCCESS(f"{name}: {count} permissions."))
