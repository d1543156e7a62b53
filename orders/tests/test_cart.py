"""The session cart: the Cart class and the add / update / remove pages."""

from decimal import Decimal

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from orders.cart import SESSION_KEY, Cart
from orders.errors import InvalidOrder, OutOfStock
from orders.models import MAX_LINES, MAX_QUANTITY
from orders.services import DELIVERY_FEE, FREE_DELIVERY_FROM

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BAD_QUANTITIES = ["abc", "-1", "0", "1000", "", "2.5", "1e9"]


def session_cart(client):
    return client.session.get(SESSION_KEY, {})


def add(client, product, quantity=1, **headers):
    return client.post(reverse("orders:cart-add"), {"product": product.pk, "quantity": quantity}, **headers)


def update(client, product, quantity, **headers):
    return client.post(reverse("orders:cart-update"), {"product": product.pk, "quantity": quantity}, **headers)


def remove(client, product, **headers):
    return client.post(reverse("orders:cart-remove"), {"product": product.pk}, **headers)


def assert_badge_oob(response, count):
    html = response.content.decode()
    assert 'id="cart-badge"' in html
    assert 'hx-swap-oob="true"' in html
    assert f'aria-label="{count} items in cart"' in html


# --- The Cart class -------------------------------------------------------------------


class TestCart:
    def test_add_accumulates_and_update_sets(self, bananas, milk):
        cart = Cart(SessionStore())
        assert cart.add(milk, 2) == ""
        assert cart.add(milk, 3) == ""
        assert cart.quantity(milk.pk) == 5
        assert cart.update(milk, 1) == ""
        assert cart.count == 1
        assert cart.as_order_lines() == [(str(milk.pk), 1)]

    def test_never_keeps_more_than_the_stock(self, bananas):
        cart = Cart(SessionStore())
        notice = cart.add(bananas, 5)
        assert notice.startswith("Only 3 left of Bananas")
        assert cart.quantity(bananas.pk) == 3
        assert cart.add(bananas, 1).startswith("Only 3 left of Bananas")
        assert cart.quantity(bananas.pk) == 3

    def test_never_keeps_more_than_the_order_limit(self, make_product):
        plenty = make_product("Rice", stock=500)
        cart = Cart(SessionStore())
        cart.add(plenty, MAX_QUANTITY)
        assert cart.add(plenty, 1) == f"You can order at most {MAX_QUANTITY} of Rice."
        assert cart.quantity(plenty.pk) == MAX_QUANTITY

    def test_refuses_out_of_stock_and_inactive_products(self, popcorn, milk):
        cart = Cart(SessionStore())
        with pytest.raises(OutOfStock, match="Popcorn is out of stock"):
            cart.add(popcorn, 1)
        milk.active = False
        milk.save()
        with pytest.raises(InvalidOrder, match="Whole Milk is no longer sold"):
            cart.add(milk, 1)
        assert cart.is_empty

    def test_update_needs_the_product_in_the_cart(self, milk):
        with pytest.raises(InvalidOrder, match="not in your cart"):
            Cart(SessionStore()).update(milk, 2)

    def test_limits_the_number_of_lines(self, make_product):
        cart = Cart(SessionStore())
        for _ in range(MAX_LINES):
            cart.add(make_product(), 1)
        with pytest.raises(InvalidOrder, match=f"at most {MAX_LINES}"):
            cart.add(make_product(), 1)
        assert len(cart) == MAX_LINES

    def test_survives_the_session_round_trip_and_ignores_junk(self, milk):
        session = SessionStore()
        Cart(session).add(milk, 2)
        session.save()
        reloaded = SessionStore(session_key=session.session_key)
        assert Cart(reloaded).quantity(milk.pk) == 2

        session[SESSION_KEY] = {str(milk.pk): 2, "abc": 1, "7": -3, "8": "x", "9": True}
        assert Cart(session).lines == {str(milk.pk): 2}
        session[SESSION_KEY] = ["not", "a", "dict"]
        assert Cart(session).is_empty

    def test_summary_prices_from_the_current_catalog(self, bananas, milk):
        cart = Cart(SessionStore())
        cart.add(milk, 2)
        cart.add(bananas, 1)
        milk.price = Decimal("2.00")
        milk.save()

        summary = cart.summary()

        assert [(line.product.name, line.quantity, line.line_total) for line in summary.lines] == [
            ("Whole Milk", 2, Decimal("4.00")),
            ("Bananas", 1, Decimal("1.49")),
        ]
        assert summary.subtotal == Decimal("5.49")
        assert summary.delivery_fee == DELIVERY_FEE
        assert summary.total == Decimal("5.49") + DELIVERY_FEE
        assert summary.free_delivery_gap == FREE_DELIVERY_FROM - Decimal("5.49")

    def test_delivery_is_free_from_the_threshold(self, milk):
        milk.price = FREE_DELIVERY_FROM / 2
        milk.save()
        cart = Cart(SessionStore())
        cart.add(milk, 2)
        summary = cart.summary()
        assert summary.subtotal == FREE_DELIVERY_FROM
        assert summary.delivery_fee == Decimal("0.00")
        assert summary.total == FREE_DELIVERY_FROM
        assert summary.free_delivery_gap == Decimal("0.00")

    def test_summary_flags_lines_that_cannot_be_ordered_and_drops_deleted_products(self, make_product, milk):
        short, gone_soon, retired = make_product("Short", stock=5), make_product("Gone"), make_product("Retired")
        cart = Cart(SessionStore())
        for product in (milk, short, gone_soon, retired):
            cart.add(product, 2)
        short.stock = 1
        short.save()
        retired.active = False
        retired.save()
        gone_soon.delete()
        milk.stock = 0
        milk.save()

        summary = cart.summary()

        assert {line.product.name: line.problem for line in summary.lines} == {
            "Whole Milk": "Out of stock",
            "Short": "Only 1 left",
            "Retired": "No longer sold",
        }
        assert summary.has_problems
        assert str(gone_soon.pk) not in cart.lines


# --- Add -----------------------------------------------------------------------------


def test_add_without_htmx_redirects_back_with_a_message(customer_client, milk):
    response = add(customer_client, milk, 2)
    assert response.status_code == 302
    assert response.url == f"{reverse('orders:catalog')}#product-{milk.slug}"
    assert session_cart(customer_client) == {str(milk.pk): 2}
    page = customer_client.get(response.url)
    assert "Added Whole Milk to your cart." in page.content.decode()
    assert '<span class="stepper-n">2</span><span class="visually-hidden"> in your cart' in page.content.decode()


def test_add_returns_to_a_safe_next_only(customer_client, milk):
    response = customer_client.post(
        reverse("orders:cart-add"), {"product": milk.pk, "quantity": 1, "next": "/?q=milk&page=1"}
    )
    assert response.url == f"/?q=milk&page=1#product-{milk.slug}"
    response = customer_client.post(
        reverse("orders:cart-add"), {"product": milk.pk, "quantity": 1, "next": "https://evil.example/"}
    )
    assert response.url == f"/#product-{milk.slug}"


def test_add_with_htmx_returns_the_card_and_the_badge(customer_client, milk):
    add(customer_client, milk, 1)
    response = add(customer_client, milk, 2, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f'id="product-{milk.slug}"' in html
    assert '<span class="stepper-n">3</span><span class="visually-hidden"> in your cart' in html
    assert_badge_oob(response, 3)
    assert session_cart(customer_client) == {str(milk.pk): 3}


def test_add_beyond_stock_keeps_the_stock_and_says_so(customer_client, bananas):
    response = add(customer_client, bananas, 5, **HTMX)
    assert response.status_code == 200
    assert "Only 3 left of Bananas" in response.content.decode()
    assert_badge_oob(response, 3)
    assert session_cart(customer_client) == {str(bananas.pk): 3}

    response = add(customer_client, bananas, 1, follow=True)
    assert "Only 3 left of Bananas" in response.content.decode()
    assert session_cart(customer_client) == {str(bananas.pk): 3}


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_add_with_a_bad_quantity_is_a_form_error(customer_client, milk, quantity):
    response = add(customer_client, milk, quantity, **HTMX)
    assert response.status_code == 200
    assert f"Enter a whole number from 1 to {MAX_QUANTITY}." in response.content.decode()
    assert 'role="alert"' in response.content.decode()

    response = add(customer_client, milk, quantity)
    assert response.status_code == 400
    assert f"Enter a whole number from 1 to {MAX_QUANTITY}." in response.content.decode()
    assert 'id="catalog-results"' in response.content.decode(), "the catalog page, with the error on top"
    assert session_cart(customer_client) == {}


@pytest.mark.parametrize("product_id", ["abc", "999999", "", "1;DROP", "100000000000000000000"])
def test_add_an_unknown_product_is_a_bad_request(customer_client, milk, product_id):
    data = {"product": product_id, "quantity": 1}
    assert customer_client.post(reverse("orders:cart-add"), data, **HTMX).status_code == 400
    response = customer_client.post(reverse("orders:cart-add"), data)
    assert response.status_code == 400
    assert "That product is not in our catalog." in response.content.decode() or "Choose a product." in (
        response.content.decode()
    )
    assert session_cart(customer_client) == {}


def test_out_of_stock_products_cannot_be_added(customer_client, popcorn):
    response = add(customer_client, popcorn, 1, **HTMX)
    html = response.content.decode()
    assert "Sorry, Popcorn is out of stock." in html
    assert "Out of stock" in html
    assert 'name="quantity"' not in html, "the refreshed card has no add button"

    response = add(customer_client, popcorn, 1)
    assert response.status_code == 409
    assert "Sorry, Popcorn is out of stock." in response.content.decode()
    assert session_cart(customer_client) == {}


def test_inactive_products_cannot_be_added(customer_client, milk):
    milk.active = False
    milk.save()
    response = add(customer_client, milk, 1)
    assert response.status_code == 400
    assert "Whole Milk is no longer sold." in response.content.decode()
    assert session_cart(customer_client) == {}


def test_cart_actions_need_post(customer_client):
    for name in ("orders:cart-add", "orders:cart-update", "orders:cart-remove"):
        assert customer_client.get(reverse(name)).status_code == 405


# --- The cart page, update and remove --------------------------------------------------------


def test_cart_page_shows_lines_and_server_computed_totals(customer_client, milk, bananas):
    add(customer_client, milk, 2)
    add(customer_client, bananas, 1)
    html = customer_client.get(reverse("orders:cart")).content.decode()
    assert 'id="cart"' in html
    assert "Whole Milk" in html and "Bananas" in html
    assert "$2.40" in html  # 2 x 1.20
    assert "$3.89" in html  # subtotal
    assert f"${DELIVERY_FEE}" in html
    assert f"${Decimal('3.89') + DELIVERY_FEE}" in html
    assert reverse("orders:checkout") in html


def test_cart_page_flags_lines_that_became_unavailable(customer_client, milk, bananas):
    add(customer_client, milk, 2)
    add(customer_client, bananas, 1)
    milk.active = False
    milk.save()
    bananas.stock = 0
    bananas.save()
    html = customer_client.get(reverse("orders:cart")).content.decode()
    assert "No longer sold" in html
    assert "Out of stock" in html
    assert f'href="{reverse("orders:checkout")}"' not in html


def test_empty_cart_page(customer_client):
    html = customer_client.get(reverse("orders:cart")).content.decode()
    assert "Your cart is empty." in html


def test_update_without_htmx_redirects_to_the_cart(customer_client, milk):
    add(customer_client, milk, 1)
    response = update(customer_client, milk, 4)
    assert response.status_code == 302
    assert response.url == reverse("orders:cart")
    assert session_cart(customer_client) == {str(milk.pk): 4}


def test_update_with_htmx_returns_the_cart_and_the_badge(customer_client, milk):
    add(customer_client, milk, 1)
    response = update(customer_client, milk, 4, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="cart"' in html
    assert "$4.80" in html
    assert_badge_oob(response, 4)


def test_update_beyond_stock_keeps_the_stock_and_says_so(customer_client, bananas):
    add(customer_client, bananas, 1)
    response = update(customer_client, bananas, 10, **HTMX)
    assert "Only 3 left of Bananas" in response.content.decode()
    assert session_cart(customer_client) == {str(bananas.pk): 3}

    response = update(customer_client, bananas, 10, follow=True)
    assert "Only 3 left of Bananas" in response.content.decode()


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_update_with_a_bad_quantity_is_a_form_error(customer_client, milk, quantity):
    add(customer_client, milk, 2)
    response = update(customer_client, milk, quantity, **HTMX)
    assert response.status_code == 200
    assert f"Enter a whole number from 1 to {MAX_QUANTITY}." in response.content.decode()

    response = update(customer_client, milk, quantity)
    assert response.status_code == 400
    assert f"Enter a whole number from 1 to {MAX_QUANTITY}." in response.content.decode()
    assert session_cart(customer_client) == {str(milk.pk): 2}


def test_update_a_product_not_in_the_cart_is_refused(customer_client, milk, bananas):
    add(customer_client, milk, 1)
    response = update(customer_client, bananas, 2)
    assert response.status_code == 400
    assert "Bananas is not in your cart." in response.content.decode()
    assert session_cart(customer_client) == {str(milk.pk): 1}


def test_remove_with_and_without_htmx(customer_client, milk, bananas):
    add(customer_client, milk, 2)
    add(customer_client, bananas, 1)

    response = remove(customer_client, milk, **HTMX)
    assert response.status_code == 200
    assert "Whole Milk" not in response.content.decode()
    assert_badge_oob(response, 1)

    response = remove(customer_client, bananas)
    assert response.status_code == 302
    assert session_cart(customer_client) == {}
    assert "Removed Bananas from your cart." in customer_client.get(response.url).content.decode()


def test_remove_an_unknown_product_is_not_a_500(customer_client):
    response = customer_client.post(reverse("orders:cart-remove"), {"product": "nope"}, **HTMX)
    assert response.status_code == 200
    assert "That product is not in our catalog." in response.content.decode()


# --- Who may use the cart ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["partner", "admin"])
def test_other_roles_cannot_use_the_cart(client, make_user, milk, role):
    client.force_login(make_user(role))
    assert client.get(reverse("orders:cart")).status_code == 403
    assert add(client, milk, 1).status_code == 403
    assert session_cart(client) == {}


def test_anonymous_visitors_are_sent_to_log_in(client, milk):
    for response in (client.get(reverse("orders:cart")), add(client, milk, 1)):
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
