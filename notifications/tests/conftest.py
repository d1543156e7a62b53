import pytest
from django.core.management import call_command

from quickcommerce.testing import SmtpServer


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def queued_mail(settings, smtp_server, redis_server):
    """Emails as production sends them: queued on a real redis-server, sent by the worker
    (``run_worker``) over SMTP to a real server. Retries after 1 s."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 2
    settings.REDIS_URL = redis_server.url
    settings.EMAIL_RETRY_DELAYS = [1, 1, 1]
    return smtp_server


def run_worker():
    """The worker, as compose runs it, until nothing is due (jobs run in this process,
    so they see this test's database)."""
    call_command("emailworker", burst=True)


@pytest.fixture
def carol(make_user):
    return make_user("customer", username="carol", first_name="Carol", email="carol@example.com")


@pytest.fixture
def free_redis_url():
    """A Redis URL where nothing listens: Redis is down."""
    from quickcommerce.testing import free_port

    return f"redis://127.0.0.1:{free_port()}/0"
