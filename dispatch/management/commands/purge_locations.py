from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch.location import purge_locations


class Command(BaseCommand):
    help = (
        "Delete riders' trail points older than LOCATION_RETENTION_HOURS and forget partners' last positions "
        "as old. Run it from cron (docs/security.md, 'Location'); safe to run any time, on any instance."
    )

    def handle(self, *args, **options):
        points, positions = purge_locations()
        self.stdout.write(
            f"Deleted {points} trail point(s) and {positions} last position(s) older than "
            f"{settings.LOCATION_RETENTION_HOURS} h."
        )
