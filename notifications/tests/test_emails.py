"""Customers hear back by email: one message per moment, over a real SMTP server, sent by
the real worker from a real redis-server queue."""

import time
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from accounts.services import set_order_emails
from dispatch.services import accept_order, advance_order, set_availability
from notifications.models import SentEmail
from notifications.queue import enqueue
from notifications.tasks import send_order_email
from notifications.tests.conftest import run_worker
from orders.factories import ProductFactory, make_order
from orders.models import Order
from orders.services import cancel_order

pytestmark = pytest.mark.django_db


def bodies(message):
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def place(customer, capture):
    milk = ProductFactory(name="Oat milk", price=Decimal("2.50"))
    bread = ProductFactory(name="Rye bread", price=Decimal("3.20"))
    with capture(execute=True):
        return make_order(customer, [(milk, 2), (bread, 1)])


def accept(partner, order, capture):
    with capture(execute=True):
        set_availability(partner=partner, online=True)
        return accept_order(partner=partner, order_ref=order.ref)


def advance(partner, order, status, capture, code=None):
    with capture(execute=True):
        return advance_order(partner=partner, order_ref=order.ref, to_status=status, code=code)


def test_each_moment_sends_exactly_one_email_with_its_content(
    queued_mail, carol, partner, published, settings, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    order = place(carol, capture)
    run_worker()
    assert queued_mail.messages == []  # placing an order sends nothing

    order = accept(partner, order, capture)
    run_worker()
    [accepted] = queued_mail.messages
    assert accepted.envelope_recipients == ["carol@example.com"]
    assert accepted["To"] == "carol@example.com"
    assert accepted["From"] == settings.DEFAULT_FROM_EMAIL
    assert accepted["Subject"] == f"Ravi accepted your order {order.ref}"
    tracking = f"{settings.SITE_URL}/orders/{order.ref}/"
    for body in bodies(accepted):
        assert "Ravi" in body
        assert order.delivery_code in body
        assert tracking in body

    advance(partner, order, Order.Status.PICKED_UP, capture)
    run_worker()
    assert len(queued_mail.messages) == 1  # picked up: not a moment customers are emailed about

    advance(partner, order, Order.Status.OUT_FOR_DELIVERY, capture)
    run_worker()
    assert [m["Subject"] for m in queued_mail.messages[1:]] == [f"Your order {order.ref} is on the way"]

    order.refresh_from_db()
    advance(partner, order, Order.Status.DELIVERED, capture, code=order.delivery_code)
    run_worker()
    run_worker()
    assert len(queued_mail.messages) == 3
    receipt = queued_mail.messages[2]
    assert receipt["Subject"] == f"Delivered: your order {order.ref} (receipt)"
    text, html = bodies(receipt)
    assert "2 x Oat milk @ 2.50 = 5.00" in text
    assert "1 x Rye bread @ 3.20 = 3.20" in text
    assert f"Total:    {order.total}" in text
    assert "<td>Oat milk</td><td>2</td><td>2.50</td><td>5.00</td>" in html
    assert f"<strong>{order.total}</strong>" in html
    assert set(SentEmail.objects.filter(order=order).values_list("key", flat=True)) == {
        f"accepted:{partner.pk}",
        "out_for_delivery",
        "delivered",
    }


@pytest.mark.parametrize("by", ["customer", "admin"])
def test_cancelled_says_by_whom_and_that_nothing_is_charged(
    by, queued_mail, carol, admin_user, published, django_capture_on_commit_callbacks
):
    order = place(carol, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(actor=carol if by == "customer" else admin_user, order_ref=order.ref)
    run_worker()
    [message] = queued_mail.messages
    assert message["Subject"] == f"Your order {order.ref} was cancelled"
    for body in bodies(message):
        assert ("by you" if by == "customer" else "by quickcommerce") in body
        assert "Nothing will be delivered and you will not be charged." in body


def test_a_customer_who_turned_emails_off_gets_none(
    queued_mail, carol, partner, published, client, django_capture_on_commit_callbacks
):
    # Given Carol turned order emails off on her settings page
    client.force_login(carol)
    response = client.post(reverse("accounts:settings"), {})  # the box unticked
    assert response.status_code == 302
    carol.refresh_from_db()
    assert carol.order_emails is False
    # When her order is accepted and cancelled
    order = place(carol, django_capture_on_commit_callbacks)
    accept(partner, order, django_capture_on_commit_callbacks)
    run_worker()
    # Then nothing is sent
    assert queued_mail.messages == []
    assert not SentEmail.objects.exists()


def test_settings_page_turns_emails_back_on(carol, client):
    set_order_emails(user=carol, enabled=False)
    client.force_login(carol)
    page = client.get(reverse("accounts:settings"))
    assert 'name="order_emails"' in page.content.decode()
    assert "checked" not in page.content.decode().split('name="order_emails"')[1].split(">")[0]
    client.post(reverse("accounts:settings"), {"order_emails": "on"})
    carol.refresh_from_db()
    assert carol.order_emails is True


def test_settings_page_needs_a_login(client):
    response = client.get(reverse("accounts:settings"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_mail_server_down_the_order_change_succeeds_and_the_retry_delivers_once(
    queued_mail, carol, partner, published, django_capture_on_commit_callbacks
):
    order = place(carol, django_capture_on_commit_callbacks)
    # Given the mail server is down
    queued_mail.stop()
    # When the partner accepts: the accept itself succeeds
    order = accept(partner, order, django_capture_on_commit_callbacks)
    assert Order.objects.get(pk=order.pk).status == Order.Status.ACCEPTED
    # and the worker's first try fails; nothing is recorded as sent
    run_worker()
    assert queued_mail.messages == []
    assert not SentEmail.objects.exists()
    # Then, the server back, the retry delivers it, once
    queued_mail.start()
    time.sleep(1.2)
    run_worker()
    time.sleep(1.2)
    run_worker()
    assert [m["Subject"] for m in queued_mail.messages] == [f"Ravi accepted your order {order.ref}"]
    assert SentEmail.objects.count() == 1


def test_the_same_email_queued_twice_is_sent_once(
    queued_mail, carol, partner, published, django_capture_on_commit_callbacks
):
    order = place(carol, django_capture_on_commit_callbacks)
    order = accept(partner, order, django_capture_on_commit_callbacks)
    enqueue(send_order_email, order.pk, "accepted", f"accepted:{partner.pk}")  # a duplicate job
    run_worker()
    assert len(queued_mail.messages) == 1


def test_redis_down_the_order_change_still_succeeds(
    settings, carol, partner, published, free_redis_url, django_capture_on_commit_callbacks, caplog
):
    settings.REDIS_URL = free_redis_url
    order = place(carol, django_capture_on_commit_callbacks)
    order = accept(partner, order, django_capture_on_commit_callbacks)
    assert Order.objects.get(pk=order.pk).status == Order.Status.ACCEPTED
    assert "could not queue the accepted email" in caplog.text


def test_without_redis_the_email_is_sent_in_process_after_the_commit(
    settings, carol, partner, published, django_capture_on_commit_callbacks
):
    # make run: no REDIS_URL, no worker; Django's test email backend stands in for the console.
    settings.REDIS_URL = None
    order = place(carol, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        set_availability(partner=partner, online=True)
        accept_order(partner=partner, order_ref=order.ref)
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    [message] = mail.outbox
    assert message.to == ["carol@example.com"]
    assert order.ref in message.subject


def test_order_emails_off_for_the_whole_site_sends_nothing(
    queued_mail, settings, carol, partner, published, django_capture_on_commit_callbacks
):
    settings.ORDER_EMAILS = False
    order = place(carol, django_capture_on_commit_callbacks)
    accept(partner, order, django_capture_on_commit_callbacks)
    run_worker()
    assert queued_mail.messages == []
