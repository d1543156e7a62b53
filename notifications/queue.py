"""Where order emails wait to be sent: an RQ queue on the Redis we already run.

With ``REDIS_URL`` set, ``enqueue`` puts a job on the ``EMAIL_QUEUE`` queue and
returns (RQ writes the job and pushes it in one pipeline); ``python manage.py emailworker`` sends it, retrying
after each of ``EMAIL_RETRY_DELAYS`` while the mail server is down. Without Redis
(``make run``: one process, the console backend) the job runs right here, after the
commit, so no other process is needed. docs/notifications.md says why RQ.
"""

import functools

from django.conf import settings
from redis import Redis
from rq import Queue, Retry

# A job stuck this long (a hung mail server past EMAIL_TIMEOUT) is failed and retried.
JOB_TIMEOUT_SECONDS = 120
# Failed jobs (every retry used) stay a week for an operator to look at (rq info).
FAILURE_TTL_SECONDS = 7 * 86400


@functools.cache
def _connection(url: str) -> Redis:
    # Short timeouts: enqueueing runs in the request's on_commit, and must never hang it.
    return Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def email_queue() -> Queue | None:
    """The queue, or None when there is no Redis (emails are sent in-process)."""
    if not settings.REDIS_URL:
        return None
    return Queue(settings.EMAIL_QUEUE, connection=_connection(settings.REDIS_URL))


def enqueue(func, *args) -> None:
    queue = email_queue()
    if queue is None:
        func(*args)
        return
    delays = list(settings.EMAIL_RETRY_DELAYS)
    queue.enqueue(
        func,
        *args,
        retry=Retry(max=len(delays), interval=delays) if delays else None,
        job_timeout=JOB_TIMEOUT_SECONDS,
        result_ttl=3600,
        failure_ttl=FAILURE_TTL_SECONDS,
    )
