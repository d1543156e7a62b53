from django.core.management.base import BaseCommand

from dispatch.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo


class Command(BaseCommand):
    help = "Create demo categories, products, users and a few past orders (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Wipe all orders, the catalog and the demo users first."
        )

    def handle(self, *args, reset=False, **options):
        seed_demo(reset=reset, out=self.stdout.write)
        logins = ", ".join(f"{username} ({role})" for username, role, *_ in DEMO_USERS)
        self.stdout.write(f"Demo logins, password {DEMO_PASSWORD!r}: {logins}")
