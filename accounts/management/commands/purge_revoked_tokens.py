from django.core.management.base import BaseCommand

from accounts.tokens import purge_expired_revocations


class Command(BaseCommand):
    help = "Delete revoked refresh tokens that have expired anyway (run daily, e.g. from cron)."

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {purge_expired_revocations()} expired revocations.")
