"""The Django admin: who gets in, what loads, and that every order change made there goes
through a service (an OrderEvent with the admin as actor, and a live event published)."""

import re
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.factories import CustomerFactory, PartnerFactory
from accounts.models import PartnerProfile, User
from dispatch import audiences
from dispatch import publish as publishing
from dispatch.factories import order_in_status
from dispatch.services import accept_order, set_availability
from orders import signals
from orders.factories import CategoryFactory, ProductFactory, make_order
from orders.models import MAX_CODE_ATTEMPTS, Order, OrderEvent, Product

pytestmark = pytest.mark.django_db

S = Order.Status
CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def published(monkeypatch):
    """Spy on dispatch.publish.publish (and publish_partner): record, then really publish."""
    calls = []
    real_publish, real_partner = publishing.publish, publishing.publish_partner

    def publish(event, order, **kwargs):
        calls.append((event, order.ref, kwargs))
        return real_publish(event, order, **kwargs)

    def publish_partner(partner):
        calls.append((audiences.PARTNER_UPDATE, partner.username, {}))
        return real_partner(partner)

    monkeypatch.setattr(publishing, "publish", publish)
    monkeypatch.setattr(publishing, "publish_partner", publish_partner)
    return calls


def change_url(order):
    return reverse("admin:orders_order_change", args=[order.ref])


def operation_url(order, name):
    return reverse("admin:orders_order_operation", args=[order.ref, name])


def texts(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def last_event(order):
    return OrderEvent.objects.filter(order=order).select_related("actor").order_by("at", "version").last()


def run_action(client, action, orders, **form):
    """The two steps of an action with an intermediate page: pick, then apply."""
    selected = [str(order.pk) for order in orders]
    page = client.post(CHANGELIST, {"action": action, "_selected_action": selected})
    assert page.status_code == 200
    return client.post(CHANGELIST, {"action": action, "_selected_action": selected, "apply": "1", **form})


# --- who gets in ----------------------------------------------------------------------------


def _admin_urls():
    order = order_in_status(S.ACCEPTED)
    product = Product.objects.first()
    profile = PartnerProfile.objects.first()
    return order, [
        reverse("admin:index"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[order.customer.pk]),
        reverse("admin:accounts_user_change", args=[order.partner.pk]),
        reverse("admin:accounts_partnerprofile_changelist"),
        reverse("admin:accounts_partnerprofile_change", args=[profile.pk]),
        reverse("admin:orders_category_changelist"),
        reverse("admin:orders_category_change", args=[product.category.pk]),
        reverse("admin:orders_product_changelist"),
        reverse("admin:orders_product_change", args=[product.pk]),
        CHANGELIST,
        change_url(order),
        reverse("admin:orders_order_change", args=[order.pk]),  # Django's own links by pk
        operation_url(order, "reassign"),
    ]


def test_every_admin_page_loads_for_admins(admin_client):
    order, urls = _admin_urls()
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert order.ref in admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(change_url(order)).content.decode()
    assert order.address in page and order.delivery_code in page


@pytest.mark.parametrize("role", ["customer", "partner"])
def test_customers_and_partners_are_sent_to_the_admin_login_and_see_no_data(client, make_user, role):
    order, urls = _admin_urls()
    client.force_login(make_user(role))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url
        page = client.get(response["Location"]).content.decode()
        page = page.replace(url, "")  # the login form echoes the URL asked for (next=)
        page = page.replace(quote(url), "")
        for secret in (order.ref, order.address, order.delivery_code, order.customer.username):
            assert secret not in page, (url, secret)
    response = client.post(CHANGELIST, {"action": "cancel_orders", "_selected_action": [str(order.pk)], "apply": "1"})
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == S.ACCEPTED


def test_filters_and_search_on_the_order_list(admin_client):
    placed = make_order(CustomerFactory(username="zoe"))
    accepted = order_in_status(S.ACCEPTED, customer=CustomerFactory(username="yan"))
    partner = accepted.partner

    def refs(**params):
        html = admin_client.get(CHANGELIST, params).content.decode()
        return {ref for ref in (placed.ref, accepted.ref) if f">{ref}</a>" in html}

    assert refs() == {placed.ref, accepted.ref}
    assert refs(status__exact="placed") == {placed.ref}
    assert refs(partner=partner.username) == {accepted.ref}
    assert refs(partner="-") == {placed.ref}
    assert refs(q="zoe") == {placed.ref}
    assert refs(q=accepted.ref) == {accepted.ref}
    assert refs(**{"created_at__gte": "2000-01-01 00:00:00+00:00"}) == {placed.ref, accepted.ref}


def test_orders_cannot_be_added_or_deleted(admin_client):
    order = make_order()
    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403
    assert admin_client.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    assert admin_client.post(reverse("admin:orders_order_delete", args=[order.pk]), {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_the_status_cannot_be_edited_through_the_change_form(admin_client, published):
    order = make_order()
    response = admin_client.post(
        change_url(order), {"status": "delivered", "partner": "", "delivery_code": "0000", "total": "0.00"}
    )
    assert response.status_code == 403
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.version, fresh.total) == (S.PLACED, order.version, order.total)
    page = admin_client.get(change_url(order)).content.decode()
    assert 'name="status"' not in page and 'name="delivery_code"' not in page
    assert published == []


# --- actions through the services -------------------------------------------------------------


def test_cancel_action_goes_through_the_service(
    admin_client, admin_user, published, django_capture_on_commit_callbacks
):
    order = order_in_status(S.ACCEPTED)
    stock_before = Product.objects.get(pk=order.items.get().product_id).stock

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "cancel_orders", [order], reason="Shop closed early")

    assert response.status_code == 302
    fresh = Order.objects.get(pk=order.pk)
    assert fresh.status == S.CANCELLED
    event = last_event(order)
    assert (event.status, event.actor, event.note) == (S.CANCELLED, admin_user, "Shop closed early")
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, {"previous_partner_id": None})]
    assert Product.objects.get(pk=order.items.get().product_id).stock == stock_before + 1  # restocked
    assert texts(response) == [f"{order.ref}: cancelled."]
    # The admin's timeline shows it.
    timeline = admin_client.get(change_url(order)).content.decode()
    assert re.search(r"<strong>Cancelled</strong> by boss — Shop closed early", timeline)


def test_release_action_puts_the_order_back_on_the_board(
    admin_client, admin_user, published, django_capture_on_commit_callbacks
):
    order = order_in_status(S.ACCEPTED)
    partner = order.partner

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "release_orders", [order], reason="")

    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.partner, fresh.delivery_code) == (S.PLACED, None, "")
    assert last_event(order).actor == admin_user
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, {"previous_partner_id": partner.pk})]
    assert texts(response) == [f"{order.ref}: released back to the board."]


def test_reassign_action_uses_a_partner_select(admin_client, admin_user, published, django_capture_on_commit_callbacks):
    order = order_in_status(S.ACCEPTED)
    before = order.partner
    after = PartnerFactory(username="priya", first_name="Priya", last_name="S")

    page = admin_client.post(CHANGELIST, {"action": "reassign_orders", "_selected_action": [str(order.pk)]})
    html = page.content.decode()
    assert '<select name="partner"' in html
    assert re.search(r'<option value="priya">Priya S \(priya\) — offline, 0 active</option>', html)
    assert re.search(rf'<option value="{before.username}">[^<]*— online, 1 active</option>', html)

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "reassign_orders", [order], partner="priya")

    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.partner) == (S.ACCEPTED, after)
    event = last_event(order)
    assert (event.actor, event.note) == (admin_user, "Reassigned to priya.")
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, {"previous_partner_id": before.pk})]
    assert texts(response) == [f"{order.ref}: reassigned to priya."]


def test_reassign_needs_a_partner(admin_client, published):
    order = order_in_status(S.ACCEPTED)
    response = run_action(admin_client, "reassign_orders", [order], partner="")
    assert response.status_code == 200  # the form again, with the error
    assert "This field is required" in response.content.decode()
    assert Order.objects.get(pk=order.pk).partner == order.partner
    assert published == []


def test_reset_code_action_unlocks_the_code(admin_client, admin_user, published, django_capture_on_commit_callbacks):
    order = order_in_status(S.OUT_FOR_DELIVERY)
    Order.objects.filter(pk=order.pk).update(code_attempts=MAX_CODE_ATTEMPTS)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST, {"action": "reset_delivery_codes", "_selected_action": [str(order.pk)]}
        )

    assert response.status_code == 302
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.code_attempts, fresh.delivery_code, fresh.status) == (0, order.delivery_code, S.OUT_FOR_DELIVERY)
    event = last_event(order)
    assert (event.actor, event.note) == (admin_user, "Delivery code unlocked.")
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, {"previous_partner_id": None})]


def test_actions_report_each_order_and_refuse_what_the_rules_refuse(
    admin_client, published, django_capture_on_commit_callbacks
):
    placed = make_order()
    delivered = order_in_status(S.DELIVERED)
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "cancel_orders", [placed, delivered], reason="")
    assert sorted(texts(response)) == sorted(
        [
            f"{placed.ref}: cancelled.",
            f"{delivered.ref}: Order {delivered.ref} is already delivered and can no longer be cancelled.",
        ]
    )
    assert Order.objects.get(pk=placed.pk).status == S.CANCELLED
    assert Order.objects.get(pk=delivered.pk).status == S.DELIVERED
    assert [ref for _, ref, _ in published] == [placed.ref]

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "release_orders", [placed], reason="")
    assert texts(response) == [f"{placed.ref}: Order {placed.ref} is cancelled; it cannot become placed now."]


def test_single_order_operation_page_from_the_order_page(
    admin_client, admin_user, published, django_capture_on_commit_callbacks
):
    order = make_order()
    page = admin_client.get(change_url(order)).content.decode()
    assert operation_url(order, "cancel") in page
    assert operation_url(order, "release") not in page  # not accepted: no release button

    form = admin_client.get(operation_url(order, "cancel"))
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(operation_url(order, "cancel"), {"reason": "Duplicate order"})

    assert response.status_code == 302 and response["Location"] == change_url(order)
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED
    assert (last_event(order).actor, last_event(order).note) == (admin_user, "Duplicate order")
    assert [event for event, _, _ in published] == [signals.ORDER_STATUS_UPDATE]
    assert admin_client.get(operation_url(order, "nonsense")).status_code == 404


# --- the catalog ------------------------------------------------------------------------------


def _changelist_post(product, *, shown_stock, stock, price):
    return {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(product.pk),
        "form-0-price": price,
        "form-0-stock": str(stock),
        "initial-form-0-stock": str(shown_stock),
        "_save": "Save",
    }


def test_stock_and_price_are_editable_on_the_product_list(admin_client):
    product = ProductFactory(price="2.50", stock=10)
    url = reverse("admin:orders_product_changelist")
    page = admin_client.get(url).content.decode()
    assert 'name="form-0-stock"' in page and 'name="form-0-price"' in page

    response = admin_client.post(url, _changelist_post(product, shown_stock=10, stock=40, price="2.99"))

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.stock, str(product.price)) == (40, "2.99")


def test_a_price_edit_never_overwrites_stock_sold_meanwhile(admin_client):
    product = ProductFactory(price="2.50", stock=10)
    url = reverse("admin:orders_product_changelist")
    make_order(products_with_qty=[(product, 3)])  # sold while the admin had the page open

    response = admin_client.post(url, _changelist_post(product, shown_stock=10, stock=10, price="3.10"))

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.stock, str(product.price)) == (7, "3.10")


def test_a_stock_edit_is_refused_when_orders_moved_stock_meanwhile(admin_client):
    product = ProductFactory(stock=10)
    url = reverse("admin:orders_product_changelist")
    make_order(products_with_qty=[(product, 2)])

    response = admin_client.post(url, _changelist_post(product, shown_stock=10, stock=50, price="2.50"))

    assert response.status_code == 200
    assert "Orders changed the stock meanwhile: it is 8 now, not 10." in response.content.decode()
    product.refresh_from_db()
    assert product.stock == 8


def test_product_list_filters_and_search(admin_client):
    fruit = CategoryFactory(name="Fruit")
    ProductFactory(name="Banana", category=fruit)
    ProductFactory(name="Old bread", active=False)
    url = reverse("admin:orders_product_changelist")
    assert "Banana" in admin_client.get(url, {"category__id__exact": fruit.pk}).content.decode()
    assert "Old bread" not in admin_client.get(url, {"active__exact": "1"}).content.decode()
    html = admin_client.get(url, {"q": "bread"}).content.decode()
    assert "Old bread" in html and "Banana" not in html


# --- users and partners -------------------------------------------------------------------


def test_user_list_filters_by_role_and_searches(admin_client):
    CustomerFactory(username="carla")
    PartnerFactory(username="ravi")
    url = reverse("admin:accounts_user_changelist")
    html = admin_client.get(url, {"role__exact": "partner"}).content.decode()
    assert ">ravi</a>" in html and ">carla</a>" not in html
    html = admin_client.get(url, {"q": "carl"}).content.decode()
    assert ">carla</a>" in html and ">ravi</a>" not in html


def test_a_user_moved_out_of_the_admin_role_loses_the_admin(admin_client, make_user):
    other = make_user("admin", username="deputy")
    assert other.is_staff
    url = reverse("admin:accounts_user_change", args=[other.pk])
    form = {"username": "deputy", "role": "customer", "is_active": "on", "date_joined_0": "2024-01-01"}
    form |= {"date_joined_1": "00:00:00", "first_name": "", "last_name": "", "email": "", "phone": ""}
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    other.refresh_from_db()
    assert (other.role, other.is_staff, other.is_superuser) == ("customer", False, False)


def test_an_admin_cannot_remove_their_own_admin_role(admin_client, admin_user):
    url = reverse("admin:accounts_user_change", args=[admin_user.pk])
    response = admin_client.post(url, {"username": admin_user.username, "role": "customer", "is_active": "on"})
    assert response.status_code == 200
    assert "You cannot take away your own admin role." in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.role == User.Role.ADMIN


def test_partner_profiles_show_online_and_active_order(admin_client):
    order = order_in_status(S.ACCEPTED)
    html = admin_client.get(reverse("admin:accounts_partnerprofile_changelist")).content.decode()
    assert change_url(order) in html and order.ref in html


def test_take_offline_action_goes_through_set_availability(admin_client, published, django_capture_on_commit_callbacks):
    partner = PartnerFactory(username="ravi")
    set_availability(partner=partner, online=True)
    profile = PartnerProfile.objects.get(user=partner)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:accounts_partnerprofile_changelist"),
            {"action": "take_offline", "_selected_action": [str(profile.pk)]},
        )
    assert response.status_code == 302
    assert not PartnerProfile.objects.get(pk=profile.pk).online
    assert published == [(audiences.PARTNER_UPDATE, "ravi", {})]


def test_accept_then_admin_release_keeps_one_timeline(admin_client, admin_user, django_capture_on_commit_callbacks):
    partner = PartnerFactory()
    set_availability(partner=partner, online=True)
    order = make_order()
    accept_order(partner=partner, order_ref=order.ref)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(operation_url(order, "release"), {"reason": "Rider's bike broke"})
    events_ = list(OrderEvent.objects.filter(order=order).order_by("at", "version").values_list("status", "actor"))
    assert events_ == [(S.PLACED, order.customer.pk), (S.ACCEPTED, partner.pk), (S.PLACED, admin_user.pk)]
