"""Customer pages: catalog, checkout, my orders, order tracking and cancelling."""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dispatch.services import accept_order, set_availability
from orders.cart import SESSION_KEY
from orders.factories import make_order
from orders.models import Order
from orders.views import CATALOG_PAGE_SIZE

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
TIMES = "\N{MULTIPLICATION SIGN}"
CATALOG = reverse("orders:catalog")
CHECKOUT = reverse("orders:checkout")


def html_of(response):
    return response.content.decode()


def card(html, product):
    """The catalog card of ``product`` (its <article>), or '' if not shown."""
    match = re.search(rf'<article id="product-{re.escape(product.slug)}".*?</article>', html, re.S)
    return match.group(0) if match else ""


def put_in_cart(client, *lines):
    session = client.session
    session[SESSION_KEY] = {str(product.pk): quantity for product, quantity in lines}
    session.save()


def checkout(client, key=None, address="5 Long Road, Flat 2, Riverside", note=""):
    data = {"address": address, "note": note, "idempotency_key": key or str(uuid.uuid4())}
    return client.post(CHECKOUT, data)


# --- Catalog -----------------------------------------------------------------------------


def test_catalog_for_anonymous_visitors_has_no_add_buttons(client, milk, popcorn):
    response = client.get(CATALOG)
    html = html_of(response)
    assert response.status_code == 200
    assert "Whole Milk" in html and "$1.20" in html and "1 l" in html
    assert "Log in to order" in card(html, milk)
    assert reverse("orders:cart-add") not in html
    assert "Out of stock" in card(html, popcorn)
    assert "Log in to order" not in card(html, popcorn)


def test_catalog_for_customers_has_add_buttons_except_out_of_stock(customer_client, milk, popcorn, bananas):
    html = html_of(customer_client.get(CATALOG))
    assert reverse("orders:cart-add") in card(html, milk)
    assert "In stock" in card(html, milk)
    assert "Only 3 left" in card(html, bananas)
    assert "Out of stock" in card(html, popcorn)
    assert 'name="quantity"' not in card(html, popcorn)
    assert 'id="cart-badge"' in html


def test_a_card_in_the_cart_shows_a_stepper_instead_of_a_number_box(customer_client, milk):
    put_in_cart(customer_client, (milk, 2))
    html = card(html_of(customer_client.get(CATALOG)), milk)
    assert 'type="number"' not in html and "Update" not in html
    assert 'aria-label="One less Whole Milk"' in html and 'value="1"' in html
    assert 'aria-label="One more Whole Milk"' in html and 'value="3"' in html


def test_steppers_work_without_javascript(customer_client, milk):
    """Plain forms: plus and minus post the new quantity and come back to the card; minus at 1 removes."""
    put_in_cart(customer_client, (milk, 1))
    next_url = f"{CATALOG}?q=milk"
    more = customer_client.post(reverse("orders:cart-update"), {"product": milk.pk, "quantity": 2, "next": next_url})
    assert more.status_code == 302 and more.url == f"{next_url}#product-{milk.slug}"
    assert customer_client.session[SESSION_KEY] == {str(milk.pk): 2}
    customer_client.post(reverse("orders:cart-update"), {"product": milk.pk, "quantity": 1, "next": next_url})
    assert customer_client.session[SESSION_KEY] == {str(milk.pk): 1}
    gone = customer_client.post(reverse("orders:cart-remove"), {"product": milk.pk, "next": next_url})
    assert gone.status_code == 302 and gone.url == f"{next_url}#product-{milk.slug}"
    assert customer_client.session[SESSION_KEY] == {}
    # on the cart page (no ``next``): back to the cart
    put_in_cart(customer_client, (milk, 1))
    on_cart = customer_client.post(reverse("orders:cart-update"), {"product": milk.pk, "quantity": 2})
    assert on_cart.url == reverse("orders:cart")
    assert 'aria-label="One more Whole Milk"' in html_of(customer_client.get(reverse("orders:cart")))


def test_a_card_stepper_answers_htmx_with_the_card(customer_client, milk):
    put_in_cart(customer_client, (milk, 1))
    headers = {"HX-Request": "true", "HX-Target": f"product-{milk.slug}"}
    html = html_of(
        customer_client.post(
            reverse("orders:cart-update"), {"product": milk.pk, "quantity": 2, "next": CATALOG}, headers=headers
        )
    )
    assert html.strip().startswith(f'<article id="product-{milk.slug}"')
    assert '<span class="stepper-n">2</span>' in html
    assert 'id="cart-badge"' in html and "hx-swap-oob" in html
    html = html_of(
        customer_client.post(reverse("orders:cart-remove"), {"product": milk.pk, "next": CATALOG}, headers=headers)
    )
    assert f'id="add-{milk.slug}"' in html, "back to the Add button"


@pytest.mark.parametrize("role", ["partner", "admin"])
def test_catalog_for_other_roles_has_no_add_buttons(client, make_user, milk, role):
    client.force_login(make_user(role))
    html = html_of(client.get(CATALOG))
    assert "Whole Milk" in html
    assert reverse("orders:cart-add") not in html
    assert "Log in to order" not in html


def test_search_full_page_and_htmx_partial(client, milk, bananas, make_product):
    make_product("Oat Milk", description="Barista edition")
    make_product("Barista Beans")

    response = client.get(CATALOG, {"q": "milk"})
    html = html_of(response)
    assert "<html" in html
    assert "Whole Milk" in html and "Oat Milk" in html and "Bananas" not in html
    assert 'value="milk"' in html
    assert "Vary" in response.headers and "HX-Request" in response.headers["Vary"]

    response = client.get(CATALOG, {"q": "barista"}, HTTP_HX_TARGET="catalog-results", **HTMX)
    html = html_of(response)
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="catalog-results"')
    assert "Oat Milk" in html and "Barista Beans" in html and "Whole Milk" not in html
    assert "2 products" in html


def test_htmx_history_restore_gets_the_full_page(client, milk):
    response = client.get(CATALOG, {"q": "milk"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in html_of(response)


def test_search_without_matches(client, milk):
    html = html_of(client.get(CATALOG, {"q": "caviar"}))
    assert "No products match “caviar”." in html


def test_category_filter_full_page_and_htmx_partial(client, milk, bananas, dairy):
    html = html_of(client.get(CATALOG, {"category": "dairy"}))
    assert "Whole Milk" in html and "Bananas" not in html
    assert re.search(r'aria-current="page"[^>]*>Dairy<', html)

    response = client.get(CATALOG, {"category": "dairy"}, HTTP_HX_TARGET="catalog", **HTMX)
    html = html_of(response)
    assert html.lstrip().startswith('<section id="catalog"')
    assert "Whole Milk" in html and "Bananas" not in html
    assert 'name="category" value="dairy"' in html, "searching stays within the category"

    html = html_of(client.get(CATALOG, {"category": "dairy", "q": "banana"}, **HTMX))
    assert "Bananas" not in html and "0 products" in html


def test_malformed_filters_do_not_break_the_catalog(client, milk):
    for params in ({"category": "not a slug!"}, {"q": "x" * 500}, {"page": "abc"}, {"page": "999"}, {"page": "-1"}):
        response = client.get(CATALOG, params)
        assert response.status_code == 200, params


def test_pagination_full_page_and_htmx(client, make_product):
    for n in range(CATALOG_PAGE_SIZE + 6):
        make_product(f"Item {n:02d}")

    html = html_of(client.get(CATALOG))
    assert html.count('class="card product-card') == CATALOG_PAGE_SIZE
    assert f"{CATALOG_PAGE_SIZE + 6} products" in html
    assert 'href="/?page=2"' in html and 'hx-get="/?page=2"' in html

    response = client.get(CATALOG, {"page": 2}, HTTP_HX_TARGET="catalog-results", **HTMX)
    html = html_of(response)
    assert "<html" not in html
    assert html.count('class="card product-card') == 6
    assert "Item 29" in html and "Item 00" not in html
    assert 'rel="prev"' in html


def test_pagination_keeps_the_filters(client, make_product, dairy):
    for n in range(CATALOG_PAGE_SIZE + 1):
        make_product(f"Cheese {n:02d}", category=dairy)
    html = html_of(client.get(CATALOG, {"category": "dairy", "q": "cheese"}))
    assert 'href="/?q=cheese&amp;category=dairy&amp;page=2"' in html


def _catalog_queries(client, count, make_product):
    for _ in range(count):
        make_product()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(CATALOG).status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["anonymous", "customer"])
def test_catalog_query_count_does_not_grow_with_products(client, customer, make_product, dairy, who):
    if who == "customer":
        client.force_login(customer)
    few = _catalog_queries(client, 5, make_product)
    many = _catalog_queries(client, 45, make_product)  # 50 in all, a full page
    assert few == many
    assert many <= 6


def test_catalog_only_lists_active_products(client, milk, make_product):
    make_product("Retired Soup", active=False)
    assert "Retired Soup" not in html_of(client.get(CATALOG))


# --- Checkout ----------------------------------------------------------------------------


def test_checkout_page_has_an_idempotency_key_and_the_last_address(customer_client, customer, milk, milk_order):
    milk_order(customer, address="9 Old Street, Harbour")
    put_in_cart(customer_client, (milk, 2))
    response = customer_client.get(CHECKOUT)
    html = html_of(response)
    assert response.status_code == 200
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    assert uuid.UUID(key).version == 4
    assert "9 Old Street, Harbour" in html
    assert f"2 {TIMES} Whole Milk" in html
    assert '<label for="id_address">' in html
    other_key = re.search(r'name="idempotency_key" value="([^"]+)"', html_of(customer_client.get(CHECKOUT))).group(1)
    assert other_key != key, "a fresh key each time the form is rendered"


def test_checkout_places_the_order_and_empties_the_cart(customer_client, customer, milk, bananas):
    put_in_cart(customer_client, (milk, 2), (bananas, 3))

    response = checkout(customer_client, note="Ring twice")

    order = Order.objects.get(customer=customer)
    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    assert sorted(order.items.values_list("name", "quantity")) == [("Bananas", 3), ("Whole Milk", 2)]
    assert order.note == "Ring twice"
    milk.refresh_from_db()
    bananas.refresh_from_db()
    assert (milk.stock, bananas.stock) == (48, 0)
    assert customer_client.session[SESSION_KEY] == {}
    page = html_of(customer_client.get(response.url))
    assert "Order placed!" in page


def test_the_order_placed_message_follows_the_state(customer_client, customer, partner, milk):
    """It describes the order while it waits, and goes once the order moved on (the
    status section is what the live updates re-render)."""
    put_in_cart(customer_client, (milk, 1))
    checkout(customer_client)
    order = Order.objects.get(customer=customer)
    assert "Order placed!" in html_of(customer_client.get(order.get_absolute_url()))
    set_availability(partner=partner, online=True)
    accept_order(partner=partner, order_ref=order.ref)
    page = html_of(customer_client.get(order.get_absolute_url()))
    assert "Order placed!" not in page
    assert "accepted your order" in page


def test_double_submit_makes_one_order(customer_client, customer, milk):
    put_in_cart(customer_client, (milk, 2))
    key = str(uuid.uuid4())

    first = checkout(customer_client, key=key)
    second = checkout(customer_client, key=key)

    assert Order.objects.filter(customer=customer).count() == 1
    assert first.url == second.url == Order.objects.get().get_absolute_url()
    milk.refresh_from_db()
    assert milk.stock == 48


def test_double_submit_with_the_cart_still_full_makes_one_order(customer_client, customer, milk):
    # The second request of a double click can read the session before the first emptied it.
    put_in_cart(customer_client, (milk, 2))
    key = str(uuid.uuid4())
    checkout(customer_client, key=key)
    put_in_cart(customer_client, (milk, 2))

    response = checkout(customer_client, key=key)

    assert Order.objects.filter(customer=customer).count() == 1
    assert response.url == Order.objects.get().get_absolute_url()
    milk.refresh_from_db()
    assert milk.stock == 48


def test_out_of_stock_at_checkout_names_the_product_and_takes_nothing(customer_client, customer, milk, bananas):
    put_in_cart(customer_client, (milk, 2), (bananas, 3))
    bananas.stock = 1  # someone else bought two meanwhile
    bananas.save()

    response = checkout(customer_client, address="5 Long Road, Riverside")

    html = html_of(response)
    assert response.status_code == 409
    assert "Not enough Bananas in stock: only 1 left." in html
    assert "5 Long Road, Riverside" in html, "the address the customer typed is kept"
    assert not Order.objects.filter(customer=customer).exists()
    milk.refresh_from_db()
    bananas.refresh_from_db()
    assert (milk.stock, bananas.stock) == (50, 1)
    assert customer_client.session[SESSION_KEY] == {str(milk.pk): 2, str(bananas.pk): 3}


def test_checkout_needs_an_address(customer_client, customer, milk):
    put_in_cart(customer_client, (milk, 1))
    response = checkout(customer_client, address="   ")
    assert response.status_code == 400
    assert "Please enter a delivery address." in html_of(response)
    assert not Order.objects.exists()


def test_checkout_with_a_tampered_key_is_a_form_error(customer_client, milk):
    put_in_cart(customer_client, (milk, 1))
    response = checkout(customer_client, key="not-a-uuid")
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(customer_client):
    for response in (customer_client.get(CHECKOUT), checkout(customer_client)):
        assert response.status_code == 302
        assert response.url == reverse("orders:cart")
    assert "Your cart is empty" in html_of(customer_client.get(reverse("orders:cart")))
    assert not Order.objects.exists()


# --- My orders ------------------------------------------------------------------------------


def test_order_list_shows_only_own_orders_newest_first(customer_client, customer, other_customer, milk_order):
    first, second = milk_order(customer), milk_order(customer)
    theirs = milk_order(other_customer)

    html = html_of(customer_client.get(reverse("orders:list")))

    assert f'id="order-{first.ref}-row"' in html and f'id="order-{second.ref}-row"' in html
    assert theirs.ref not in html
    assert html.index(second.ref) < html.index(first.ref)
    assert f'data-ref="{first.ref}" data-version="{first.version}"' in html


def test_order_list_empty(customer_client):
    assert "You have no orders yet." in html_of(customer_client.get(reverse("orders:list")))


def test_order_page_shows_items_totals_address_note_and_status(customer_client, customer, milk, milk_order):
    order = milk_order(customer, address="7 Elm Street, Northside", note="Leave at the door")
    html = html_of(customer_client.get(order.get_absolute_url()))
    assert f"2 {TIMES} Whole Milk" in html
    assert f"${order.total}" in html
    assert "7 Elm Street, Northside" in html
    assert "Leave at the door" in html
    assert f'<section id="order-{order.ref}-status"' in html
    assert f'data-ref="{order.ref}" data-version="{order.version}"' in html
    assert "Placed" in html
    assert reverse("orders:cancel", kwargs={"ref": order.ref}) in html
    assert "Delivery code" not in html


def test_order_page_of_an_accepted_order_shows_the_rider_and_the_code(customer_client, customer, partner, milk_order):
    order = milk_order(customer)
    set_availability(partner=partner, online=True)
    order = accept_order(partner=partner, order_ref=order.ref)

    html = html_of(customer_client.get(order.get_absolute_url()))

    assert "Accepted" in html
    assert partner.partner_profile.display_name in html
    assert f'<p class="code">{order.delivery_code}</p>' in html
    assert "Give this code to your rider" in html
    assert reverse("orders:cancel", kwargs={"ref": order.ref}) not in html


def test_order_page_query_count_is_fixed(customer_client, customer, milk_order, make_product):
    small = milk_order(customer)
    big = make_order(customer, [(make_product(), 1) for _ in range(6)])

    counts = []
    for order in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert customer_client.get(order.get_absolute_url()).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_someone_elses_order_or_an_unknown_ref_is_a_404(customer_client, other_customer, milk_order):
    theirs = milk_order(other_customer)
    assert customer_client.get(theirs.get_absolute_url()).status_code == 404
    assert customer_client.get(reverse("orders:detail", kwargs={"ref": "ZZZZZZZZ"})).status_code == 404
    for malformed in ("/orders/abc/", "/orders/ABCDEFGHI/", "/orders/0000OOOO/", "/orders/%27%3B--/"):
        assert customer_client.get(malformed).status_code == 404, malformed


# --- Cancelling -------------------------------------------------------------------------------


def test_cancel_while_placed_returns_the_stock(customer_client, customer, milk, milk_order):
    order = milk_order(customer)
    milk.refresh_from_db()
    assert milk.stock == 48

    response = customer_client.post(reverse("orders:cancel", kwargs={"ref": order.ref}))

    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    order.refresh_from_db()
    milk.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert milk.stock == 50
    html = html_of(customer_client.get(response.url))
    assert f"Order {order.ref} is cancelled." in html
    assert "This order was cancelled." in html


def test_cancel_with_htmx_returns_the_status_partial(customer_client, customer, milk_order):
    order = milk_order(customer)
    response = customer_client.post(reverse("orders:cancel", kwargs={"ref": order.ref}), **HTMX)
    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<section id="order-{order.ref}-status"')
    assert "<html" not in html
    assert "status-cancelled" in html
    assert "Cancel order" not in html


def test_cancel_after_acceptance_is_refused(customer_client, customer, partner, milk_order, milk):
    order = milk_order(customer)
    set_availability(partner=partner, online=True)
    accept_order(partner=partner, order_ref=order.ref)
    url = reverse("orders:cancel", kwargs={"ref": order.ref})

    response = customer_client.post(url, follow=True)
    assert f"Order {order.ref} is already accepted and can no longer be cancelled." in html_of(response)

    response = customer_client.post(url, **HTMX)
    assert response.status_code == 200
    assert "can no longer be cancelled" in html_of(response)
    assert 'role="alert"' in html_of(response)

    order.refresh_from_db()
    milk.refresh_from_db()
    assert order.status == Order.Status.ACCEPTED
    assert milk.stock == 48


def test_cancel_someone_elses_order_is_a_404(customer_client, other_customer, milk_order):
    theirs = milk_order(other_customer)
    assert customer_client.post(reverse("orders:cancel", kwargs={"ref": theirs.ref})).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Order.Status.PLACED


def test_cancel_needs_post(customer_client, customer, milk_order):
    order = milk_order(customer)
    assert customer_client.get(reverse("orders:cancel", kwargs={"ref": order.ref})).status_code == 405


# --- Who may see the customer pages ---------------------------------------------------------------


def customer_pages(order):
    return [
        reverse("orders:cart"),
        CHECKOUT,
        reverse("orders:list"),
        order.get_absolute_url(),
    ]


@pytest.mark.parametrize("role", ["partner", "admin"])
def test_other_roles_get_403_on_customer_pages(client, make_user, customer, milk_order, role):
    order = milk_order(customer)
    client.force_login(make_user(role))
    for url in customer_pages(order):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("orders:cancel", kwargs={"ref": order.ref})).status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.PLACED


def test_anonymous_visitors_are_sent_to_log_in(client, customer, milk_order):
    order = milk_order(customer)
    for url in customer_pages(order):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == f"{reverse('login')}?next={url}"
    response = client.post(reverse("orders:cancel", kwargs={"ref": order.ref}))
    assert response.url.startswith(reverse("login"))
