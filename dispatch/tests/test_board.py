"""The partner board: /partner/ and its actions, with and without htmx."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertInHTML

from accounts.selectors import is_partner_online
from dispatch import selectors
from dispatch.services import accept_order, advance_order, set_availability
from orders.models import MAX_CODE_ATTEMPTS, Category, Order, Product
from orders.services import place_order

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
BOARD = reverse("dispatch:board")
ADDRESS = "221B Baker Street, Flat 2, Marylebone"
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')
S = Order.Status


# --- data, made through the services ---------------------------------------------------


@pytest.fixture
def product(db):
    category = Category.objects.create(name="Dairy", slug="dairy")
    return Product.objects.create(category=category, name="Whole Milk", slug="whole-milk", price="1.25", stock=1000)


@pytest.fixture
def place(customer, product):
    def place_one(*, quantity=2, address=ADDRESS, note="Ring twice", who=customer):
        order, _ = place_order(customer=who, lines=[(product.pk, quantity)], address=address, note=note)
        return order

    return place_one


@pytest.fixture
def online_partner(partner):
    set_availability(partner=partner, online=True)
    return partner


@pytest.fixture
def partner_client(client, online_partner):
    client.force_login(online_partner)
    return client


def accept_url(order):
    return reverse("dispatch:accept", kwargs={"ref": order.ref})


def advance_url(order):
    return reverse("dispatch:advance", kwargs={"ref": order.ref})


def html_of(response):
    return response.content.decode()


def without_csrf(html):
    return CSRF_INPUT.sub("", html)


def card_of(html, order):
    match = re.search(rf'<article id="available-{order.ref}".*?</article>', html, re.S)
    assert match, f"no card for {order.ref}"
    return match.group(0)


def section_of(html, section_id):
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def notice_of(html):
    match = re.search(r'<div id="board-messages"[^>]*hx-swap-oob="innerHTML"[^>]*>(.*?)</div>\s*$', html, re.S)
    assert match, "no out-of-band notice"
    return match.group(1)


# --- rendering -----------------------------------------------------------------------------


def test_board_renders_the_full_page_and_the_htmx_fragment(partner_client, place):
    order = place()

    page = partner_client.get(BOARD)
    fragment = partner_client.get(BOARD, headers=HTMX)

    assert page.status_code == fragment.status_code == 200
    page_html, fragment_html = html_of(page), html_of(fragment)
    assert "<html" in page_html
    assert '<div id="board-messages" class="board-messages" aria-live="polite">' in page_html
    assert "<html" not in fragment_html
    assert fragment_html.lstrip().startswith('<div id="board" class="board">')
    for html in (page_html, fragment_html):
        assert f'id="available-{order.ref}"' in html
        assert 'id="active-orders"' in html
        assert 'id="available-orders" class="available-list"' in html
        assert "You are online" in html
    assert "HX-Request" in page["Vary"]
    assert "HX-Request" in fragment["Vary"]


def test_partials_are_the_markup_of_the_full_page(partner_client, place, online_partner):
    waiting = place()
    mine = place(note="Leave at the door")
    accept_order(partner=online_partner, order_ref=mine.ref)
    can_accept = selectors.board_context(online_partner)["can_accept"]

    page_html = without_csrf(html_of(partner_client.get(BOARD)))

    # The card a websocket push (or any partial render) makes is the page's card.
    card = render_to_string("dispatch/board.html#available-card", {"order": waiting, "can_accept": can_accept})
    assertInHTML(without_csrf(card), page_html, count=1)
    # So is the htmx fragment of the board.
    fragment_html = without_csrf(html_of(partner_client.get(BOARD, headers=HTMX)))
    assertInHTML(without_csrf(card_of(fragment_html, waiting)), page_html, count=1)
    # And the active orders the board shows are what the partial renders.
    active = render_to_string(
        "dispatch/board.html#active-orders",
        {"active": selectors.board_active_orders(online_partner), "online": True},  # as fragments.partner_html
    )
    assertInHTML(without_csrf(active), page_html, count=1)


@pytest.mark.parametrize("role", ["customer", "admin"])
@pytest.mark.parametrize(
    ("method", "url_name", "kwargs"),
    [
        ("get", "dispatch:board", {}),
        ("get", "dispatch:history", {}),
        ("post", "dispatch:availability", {}),
        ("post", "dispatch:accept", {"ref": "ABCDEFGH"}),
        ("post", "dispatch:advance", {"ref": "ABCDEFGH"}),
    ],
)
def test_other_roles_get_403(client, make_user, role, method, url_name, kwargs):
    client.force_login(make_user(role))
    response = getattr(client, method)(reverse(url_name, kwargs=kwargs))
    assert response.status_code == 403


@pytest.mark.parametrize("url_name", ["dispatch:board", "dispatch:history"])
def test_anonymous_is_sent_to_login(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_actions_are_post_only(partner_client, place):
    order = place()
    assert partner_client.get(accept_url(order)).status_code == 405
    assert partner_client.get(advance_url(order)).status_code == 405
    assert partner_client.get(reverse("dispatch:availability")).status_code == 405
    assert Order.objects.get(pk=order.pk).status == S.PLACED


# --- availability ---------------------------------------------------------------------------


def test_offline_partner_sees_no_orders_and_cannot_accept(client, partner, place):
    order = place()
    client.force_login(partner)  # partners start offline

    html = html_of(client.get(BOARD))
    assert "You are offline — go online to see and accept new orders" in html
    assert order.ref not in html
    assert 'id="available-orders"' not in html

    response = client.post(accept_url(order), headers=HTMX)
    assert "You are offline. Go online to accept orders." in notice_of(html_of(response))
    assert response["HX-Reswap"] == "none"
    assert 'hx-swap-oob="delete"' not in html_of(response)
    response = client.post(accept_url(order), follow=True)
    assert "You are offline. Go online to accept orders." in html_of(response)
    order.refresh_from_db()
    assert order.status == S.PLACED
    assert order.partner is None


def test_toggle_online_and_offline_without_javascript(client, partner, place):
    order = place()
    client.force_login(partner)

    response = client.post(reverse("dispatch:availability"), {"online": "true"})
    assert response.status_code == 302
    assert response["Location"] == BOARD
    assert is_partner_online(partner)
    html = html_of(client.get(BOARD))
    assert "You are online. New orders show up on your board." in html
    assert f'id="available-{order.ref}"' in html
    assert 'name="online" value="false"' in html
    assert ">Go offline</button>" in html

    response = client.post(reverse("dispatch:availability"), {"online": "false"}, follow=True)
    assert not is_partner_online(partner)
    html = html_of(response)
    assert "You are offline. You will not get new orders until you go online." in html
    assert order.ref not in html
    assert ">Go online</button>" in html


def test_toggle_online_and_offline_with_htmx_swaps_the_board(client, partner, place):
    order = place()
    client.force_login(partner)

    response = client.post(reverse("dispatch:availability"), {"online": "true"}, headers=HTMX)
    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="board" class="board">')
    assert 'id="availability" class="availability is-online"' in html
    assert f'id="available-{order.ref}"' in html
    assert "New orders show up on your board." in notice_of(html)
    assert is_partner_online(partner)

    response = client.post(reverse("dispatch:availability"), {"online": "false"}, headers=HTMX)
    html = html_of(response)
    assert 'id="availability" class="availability is-offline"' in html
    assert order.ref not in html
    assert "You are offline — go online" in html
    assert not is_partner_online(partner)


def test_availability_rejects_bad_input(partner_client):
    assert partner_client.post(reverse("dispatch:availability"), {"online": "maybe"}).status_code == 400
    assert partner_client.post(reverse("dispatch:availability"), {}).status_code == 400


# --- accepting ----------------------------------------------------------------------------


def test_available_cards_show_the_area_never_the_customers_contact(partner_client, customer, place):
    order = place()

    html = html_of(partner_client.get(BOARD))
    card = card_of(html, order)
    assert "Marylebone" in card
    assert "2 items" in card
    assert "4.49" in card  # 2 x 1.25 + 1.99 delivery
    assert "just now</time>" in card  # not "0 minutes ago"
    assert ">Accept</button>" in card
    for private in ("Baker Street", "221B", customer.first_name, customer.username, customer.phone, "Ring twice"):
        assert private not in card
        assert private not in html  # nowhere on the page while the order is not theirs


def test_accept_with_htmx_moves_the_order_to_my_active_orders(partner_client, online_partner, customer, place):
    order = place()
    other = place(address="1 Side Road, Soho")

    response = partner_client.post(accept_url(order), headers=HTMX)

    assert response.status_code == 200
    html = html_of(response)
    active = section_of(html, "active-orders")
    assert html.lstrip().startswith('<section id="active-orders"')
    assert f'data-ref="{order.ref}"' in active
    # The assigned partner gets what is needed at the door.
    assert customer.first_name in active
    assert f'href="tel:{customer.phone.replace(" ", "")}"' in active
    assert "221B Baker Street, Flat 2, Marylebone" in active
    assert "Ring twice" in active
    assert "Whole Milk" in active
    assert ">Mark picked up</button>" in active
    # The card goes, and (at capacity) the other cards lose their Accept button.
    assert f'<div id="available-{order.ref}" hx-swap-oob="delete"></div>' in html
    assert 'id="available-orders" class="available-list" hx-swap-oob="true"' in html
    assert card_of(html, other)
    assert ">Accept</button>" not in card_of(html, other)
    assert f"Order {order.ref} is yours." in notice_of(html)
    order.refresh_from_db()
    assert order.partner == online_partner
    assert order.status == S.ACCEPTED


def test_accept_without_javascript_redirects_with_a_message(partner_client, online_partner, customer, place):
    order = place()

    response = partner_client.post(accept_url(order))
    assert response.status_code == 302
    assert response["Location"] == BOARD

    html = html_of(partner_client.get(BOARD))
    assert f"Order {order.ref} is yours." in html
    active = section_of(html, "active-orders")
    assert customer.first_name in active
    assert "221B Baker Street" in active
    assert f'id="available-{order.ref}"' not in html
    assert Order.objects.get(pk=order.pk).partner == online_partner


def test_accept_lost_race_says_already_taken_and_drops_the_card(partner_client, online_partner, other_partner, place):
    order = place()
    page = html_of(partner_client.get(BOARD))
    assert f'id="available-{order.ref}"' in page
    # Another partner wins the order after this board was rendered.
    set_availability(partner=other_partner, online=True)
    accept_order(partner=other_partner, order_ref=order.ref)

    response = partner_client.post(accept_url(order), headers=HTMX)

    html = html_of(response)
    assert response.status_code == 200
    assert response["HX-Reswap"] == "none"
    assert "Already taken by another partner." in notice_of(html)
    assert f'<div id="available-{order.ref}" hx-swap-oob="delete"></div>' in html
    assert "Baker Street" not in html

    response = partner_client.post(accept_url(order), follow=True)
    assert "Already taken by another partner." in html_of(response)
    assert Order.objects.get(pk=order.pk).partner == other_partner


def test_capacity_limit_hides_accept_and_refuses_a_second_order(partner_client, online_partner, place):
    first, second = place(), place()
    accept_order(partner=online_partner, order_ref=first.ref)

    html = html_of(partner_client.get(BOARD))
    assert "Finish your current delivery to accept another order." in html
    assert ">Accept</button>" not in card_of(html, second)

    response = partner_client.post(accept_url(second), headers=HTMX)
    assert "Finish your current delivery before accepting another." in notice_of(html_of(response))
    assert 'hx-swap-oob="delete"' not in html_of(response)  # still there for later
    response = partner_client.post(accept_url(second), follow=True)
    assert "Finish your current delivery before accepting another." in html_of(response)
    assert Order.objects.get(pk=second.pk).partner is None


def test_a_higher_capacity_lets_partners_hold_more_orders(partner_client, online_partner, place, settings):
    settings.PARTNER_MAX_ACTIVE_ORDERS = 2
    first, second, third = place(), place(), place()

    html = html_of(partner_client.post(accept_url(first), headers=HTMX))
    assert 'id="available-orders"' not in html  # still below capacity: the list needs no refresh
    html = html_of(partner_client.post(accept_url(second), headers=HTMX))
    assert html.count('class="card active-card"') == 2
    assert ">Accept</button>" not in card_of(html, third)


def test_accepting_an_unknown_order_is_a_404(partner_client):
    assert partner_client.post(reverse("dispatch:accept", kwargs={"ref": "ABCDEFGH"})).status_code == 404


def test_board_queries_do_not_grow_with_the_number_of_orders(partner_client, online_partner, place):
    accept_order(partner=online_partner, order_ref=place().ref)

    def board_queries():
        with CaptureQueriesContext(connection) as queries:
            response = partner_client.get(BOARD)
        assert response.status_code == 200
        return len(queries), html_of(response).count('class="card order-card"')

    for _ in range(3):
        place()
    few, shown = board_queries()
    assert shown == 3
    for _ in range(27):
        place()
    many, shown = board_queries()
    assert shown == 30
    assert many == few


# --- delivering -----------------------------------------------------------------------------


@pytest.fixture
def my_order(online_partner, place):
    order = place()
    return accept_order(partner=online_partner, order_ref=order.ref)


def test_advance_through_every_step_with_the_right_button(partner_client, my_order):
    steps = [
        (S.PICKED_UP, "Mark picked up", "Picked up"),
        (S.OUT_FOR_DELIVERY, "Start delivery", "Out for delivery"),
    ]
    for to_status, button, status_label in steps:
        active = section_of(html_of(partner_client.get(BOARD)), "active-orders")
        assert f">{button}</button>" in active
        assert f'name="status" value="{to_status}"' in active
        assert "Customer's delivery code" not in active

        response = partner_client.post(advance_url(my_order), {"status": to_status}, headers=HTMX)

        html = html_of(response)
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="active-orders"')
        assert f">{status_label}</span>" in section_of(html, "active-orders")
        assert Order.objects.get(pk=my_order.pk).status == to_status

    active = section_of(html_of(partner_client.get(BOARD)), "active-orders")
    assert ">Mark delivered</button>" in active
    assert f'<label for="code-{my_order.ref}">Customer\'s delivery code</label>' in active
    assert 'inputmode="numeric"' in active
    assert 'pattern="[0-9]{4}"' in active

    my_order.refresh_from_db()
    response = partner_client.post(
        advance_url(my_order), {"status": S.DELIVERED, "code": my_order.delivery_code}, headers=HTMX
    )

    html = html_of(response)
    assert f"Order {my_order.ref} delivered." in notice_of(html)
    assert my_order.ref not in section_of(html, "active-orders")
    assert "No active delivery." in html
    # A free hand again: the available list comes back with Accept buttons.
    assert 'id="available-orders" class="available-list" hx-swap-oob="true"' in html
    my_order.refresh_from_db()
    assert my_order.status == S.DELIVERED
    assert my_order.delivered_at is not None


def test_advance_without_javascript_redirects_with_a_message(partner_client, my_order):
    response = partner_client.post(advance_url(my_order), {"status": S.PICKED_UP})
    assert response.status_code == 302
    assert response["Location"] == BOARD
    html = html_of(partner_client.get(BOARD))
    assert f"Order {my_order.ref} picked up." in html
    assert ">Start delivery</button>" in html

    # Not the next step: a clear message, nothing changes.
    response = partner_client.post(advance_url(my_order), {"status": S.DELIVERED, "code": "0000"}, follow=True)
    assert "the next step is out for delivery" in html_of(response)
    assert Order.objects.get(pk=my_order.pk).status == S.PICKED_UP


def test_wrong_code_shows_the_tries_left_and_five_lock_it(partner_client, online_partner, my_order):
    advance_order(partner=online_partner, order_ref=my_order.ref, to_status=S.PICKED_UP)
    advance_order(partner=online_partner, order_ref=my_order.ref, to_status=S.OUT_FOR_DELIVERY)
    my_order.refresh_from_db()
    wrong = "0000" if my_order.delivery_code != "0000" else "1111"

    for attempt in range(1, MAX_CODE_ATTEMPTS):
        response = partner_client.post(advance_url(my_order), {"status": S.DELIVERED, "code": wrong}, headers=HTMX)
        active = section_of(html_of(response), "active-orders")
        left = MAX_CODE_ATTEMPTS - attempt
        assert f'<p id="code-{my_order.ref}-error" class="field-error" role="alert">' in active
        assert f"Wrong delivery code. {left} {'try' if left == 1 else 'tries'} left." in active
        assert 'aria-invalid="true"' in active
        assert Order.objects.get(pk=my_order.pk).status == S.OUT_FOR_DELIVERY

    # The board remembers the misses after a reload.
    assert "1 try left." in html_of(partner_client.get(BOARD))

    response = partner_client.post(advance_url(my_order), {"status": S.DELIVERED, "code": wrong}, headers=HTMX)
    active = section_of(html_of(response), "active-orders")
    assert "the delivery code is locked" in active
    assert 'name="code"' not in active
    assert re.search(r"<button [^>]*disabled>Mark delivered</button>", active)

    # Locked: even the right code no longer works until an admin resets it.
    response = partner_client.post(
        advance_url(my_order), {"status": S.DELIVERED, "code": my_order.delivery_code}, headers=HTMX
    )
    assert "the delivery code is locked" in html_of(response)
    my_order.refresh_from_db()
    assert my_order.status == S.OUT_FOR_DELIVERY
    assert my_order.code_attempts == MAX_CODE_ATTEMPTS


def test_wrong_code_without_javascript_is_a_message(partner_client, online_partner, my_order):
    advance_order(partner=online_partner, order_ref=my_order.ref, to_status=S.PICKED_UP)
    advance_order(partner=online_partner, order_ref=my_order.ref, to_status=S.OUT_FOR_DELIVERY)
    my_order.refresh_from_db()
    wrong = "0000" if my_order.delivery_code != "0000" else "1111"

    response = partner_client.post(advance_url(my_order), {"status": S.DELIVERED, "code": wrong}, follow=True)

    assert "Wrong delivery code. 4 tries left." in html_of(response)
    assert Order.objects.get(pk=my_order.pk).status == S.OUT_FOR_DELIVERY


def test_a_partner_cannot_advance_another_partners_order(client, other_partner, my_order):
    client.force_login(other_partner)
    set_availability(partner=other_partner, online=True)

    for headers in ({}, HTMX):
        response = client.post(advance_url(my_order), {"status": S.PICKED_UP}, headers=headers)
        assert response.status_code == 404
    assert my_order.ref not in html_of(client.get(BOARD))
    assert Order.objects.get(pk=my_order.pk).status == S.ACCEPTED


def test_advance_rejects_an_unknown_status(partner_client, my_order):
    response = partner_client.post(advance_url(my_order), {"status": "teleported"}, headers=HTMX)
    assert response.status_code == 400
    assert Order.objects.get(pk=my_order.pk).status == S.ACCEPTED


def test_money_is_shown_with_two_decimals(partner_client, place, product):
    Product.objects.filter(pk=product.pk).update(price=Decimal("3.10"))
    order = place(quantity=5)  # 15.50, free delivery
    assert "15.50" in card_of(html_of(partner_client.get(BOARD)), order)


def test_the_board_shows_the_oldest_orders_first_up_to_a_limit(partner_client, place, monkeypatch):
    monkeypatch.setattr(selectors, "AVAILABLE_LIMIT", 2)
    oldest, middle, newest = place(), place(), place()

    html = html_of(partner_client.get(BOARD))

    assert re.findall(r'<article id="available-([A-Z0-9]+)"', html) == [oldest.ref, middle.ref]
    assert newest.ref not in html
