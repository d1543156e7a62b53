from django.core.management.base import BaseCommand, CommandError
from rq import SimpleWorker

from notifications.queue import email_queue


class Command(BaseCommand):
    help = "Send queued order emails (an RQ worker on EMAIL_QUEUE, with its retry scheduler). Needs REDIS_URL."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="Send what is due, then exit.")

    def handle(self, *args, burst=False, **options):
        queue = email_queue()
        if queue is None:
            raise CommandError("REDIS_URL is not set: without Redis, emails are sent by the app process itself.")
        # SimpleWorker: jobs run in this process, no fork per job (pymongo is not fork-safe).
        SimpleWorker([queue], connection=queue.connection).work(burst=burst, with_scheduler=True)
