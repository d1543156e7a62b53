"""Customer pages: catalog, cart, checkout and order tracking.

Server-rendered; every form works without JavaScript (POST, then redirect) and,
sent by htmx, answers with the partial it changed (plus the nav's cart badge,
out of band). Rules live in orders.cart and orders.services: these views parse
input, call them, and show their named errors' messages.
"""

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from accounts.permissions import has_role, role_required
from accounts.throttles import OrderThrottle, check_page_throttles
from orders.cart import Cart
from orders.errors import BadPosition, OrderNotFound, OutsideServiceArea
from orders.forms import CartProductForm, CartQuantityForm, CatalogFilterForm, CheckoutForm
from orders.geo import map_config, trail_json
from orders.models import MAX_QUANTITY
from orders.selectors import (
    catalog_products,
    categories,
    order_list_for,
    orders_visible_to,
    product_for_page,
    related_products,
    with_details,
)
from orders.services import cancel_order, place_order
from quickcommerce.errors import DomainError

CATALOG_PAGE_SIZE = 24
ORDERS_PAGE_SIZE = 20
LOW_STOCK = 5  # "Only 3 left" instead of "In stock" from here down
BADGE_TEMPLATE = "orders/partials/cart_badge.html"
# What an htmx request to the catalog gets back, by the element it targets.
CATALOG_PARTIALS = {"catalog": "orders/catalog.html#catalog", "catalog-results": "orders/catalog.html#results"}

# What every product card needs besides the product.
CARD_CONTEXT = {"can_order": True, "low_stock": LOW_STOCK, "max_quantity": MAX_QUANTITY}

customer_required = role_required(User.Role.CUSTOMER)


def _wants_partial(request) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _with_badge(request, template, context):
    """An htmx answer: the partial, plus the nav's cart badge swapped out of band."""
    html = render_to_string(template, context, request) + render_to_string(BADGE_TEMPLATE, {"oob": True}, request)
    return HttpResponse(html)


def _safe_next(request, default):
    url = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return default


def _change_cart(form, change):
    """Validate ``form`` and apply ``change(product, quantity)`` (``Cart.add`` or
    ``Cart.update``). Returns ``(product or None, notice, error, status)``."""
    if not form.is_valid():
        return form.cleaned_data.get("product"), "", form.error_text(), 400
    product = form.cleaned_data["product"]
    try:
        return product, change(product, form.cleaned_data["quantity"]), "", 200
    except DomainError as exc:
        return product, "", str(exc), exc.status_code


def _mark_in_cart(request, products) -> bool:
    """Whether this visitor may order; if so, set each product's ``in_cart`` (what the
    card's or buy box's Add / stepper shows). No query: the cart is in the session."""
    if not has_role(request.user, User.Role.CUSTOMER):
        return False
    cart = Cart(request.session)
    for product in products:
        product.in_cart = cart.quantity(product.pk)
    return True


# --- Catalog -----------------------------------------------------------------------


def _catalog_context(request, params) -> dict:
    """Everything the catalog page and its partials show, for the filters in
    ``params`` (a QueryDict). A fixed number of queries, whatever the page size."""
    filters = CatalogFilterForm(params).filters()
    all_categories = list(categories())
    page = Paginator(catalog_products(**filters), CATALOG_PAGE_SIZE).get_page(params.get("page"))
    can_order = _mark_in_cart(request, page)

    # Only the filters we understood travel on in links (page, category, search).
    query = QueryDict(mutable=True)
    if filters["search"]:
        query["q"] = filters["search"]
    if filters["category_slug"]:
        query["category"] = filters["category_slug"]
    here = query.copy()
    if page.number > 1:
        here["page"] = page.number
    catalog_url = reverse("orders:catalog")
    return {
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1),
        "products": page.object_list,
        "categories": all_categories,
        "active_category": next((c for c in all_categories if c.slug == filters["category_slug"]), None),
        "search": filters["search"],
        "query": query,
        "catalog_url": f"{catalog_url}?{here.urlencode()}" if here else catalog_url,
        **CARD_CONTEXT,
        "can_order": can_order,
    }


@require_GET
def catalog(request):
    template = "orders/catalog.html"
    if _wants_partial(request):
        template = CATALOG_PARTIALS.get(request.htmx.target, CATALOG_PARTIALS["catalog-results"])
    response = render(request, template, _catalog_context(request, request.GET))
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


# --- Product page ------------------------------------------------------------------


def _product_context(request, product) -> dict:
    """The product page: the product (with what the cart holds of it) and related
    products from its category. Three queries."""
    related = related_products(product)
    can_order = _mark_in_cart(request, [product, *related])
    return {
        **CARD_CONTEXT,
        "product": product,
        "related": related,
        "product_url": product.get_absolute_url(),
        "can_order": can_order,
    }


@require_GET
def product_detail(request, slug):
    product = product_for_page(slug)
    if product is None:
        raise Http404("No such product.")
    return render(request, "orders/product.html", _product_context(request, product))


# --- Cart --------------------------------------------------------------------------

# The element an Add or -/+ swaps, by the htmx target: the product page's buy box, or a card.
BUY_PARTIALS = {"buy-box": ("orders/product.html#buy-box", "product_url")}
CARD_PARTIAL = ("orders/catalog.html#product-card", "catalog_url")


def _page_with_error(request, next_url, error, status):
    """Without JavaScript, an Add or -/+ that failed shows the page it came from (the
    product page or the catalog, with its filters) with the error on top."""
    messages.error(request, error)
    path = urlsplit(next_url).path
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    if match and match.view_name == "orders:product":
        product = product_for_page(match.kwargs["slug"])
        if product is not None:
            return render(request, "orders/product.html", _product_context(request, product), status=status)
    context = _catalog_context(request, QueryDict(urlsplit(next_url).query))
    return render(request, "orders/catalog.html", context, status=status)


def _card_answer(request, cart, product, *, notice="", error="", status=200):
    """The answer to a card's or the product page's Add or minus/plus (their forms post
    ``next``, the page they sit on): for htmx the card or buy box again, with the badge;
    without JavaScript, back to that page at the product (or, on an error, that page with
    the error on top)."""
    next_url = _safe_next(request, default=reverse("orders:catalog"))
    if request.htmx:
        if product is None:
            return HttpResponseBadRequest(error)
        product.in_cart = cart.quantity(product.pk)
        template, url_name = BUY_PARTIALS.get(request.htmx.target, CARD_PARTIAL)
        context = {**CARD_CONTEXT, "product": product, "error": error, "notice": notice, url_name: next_url}
        # 200 even for an error: htmx swaps only successful responses, and the
        # card shows the error next to the quantity.
        return _with_badge(request, template, context)
    if error:
        return _page_with_error(request, next_url, error, status)
    if notice:
        messages.warning(request, notice)
    anchor = "" if urlsplit(next_url).path == product.get_absolute_url() else f"#product-{product.slug}"
    return redirect(f"{next_url}{anchor}")


def _from_card(request) -> bool:
    return "next" in request.POST


@customer_required
@require_POST
def cart_add(request):
    cart = Cart(request.session)
    product, notice, error, status = _change_cart(CartQuantityForm(request.POST), cart.add)
    if not request.htmx and not error and not notice:
        messages.success(request, f"Added {product.name} to your cart.")
    return _card_answer(request, cart, product, notice=notice, error=error, status=status)


def _render_cart(request, cart, *, line_feedback=None, error="", status=200):
    """The cart page (with ``status``), or for htmx its ``cart`` partial plus the
    badge (always 200: htmx swaps only successful answers, and errors show inline).
    ``line_feedback``: (product, error, notice) to show next to that product's line."""
    summary = cart.summary()
    if line_feedback:
        product, line_error, notice = line_feedback
        line = summary.line_for(product) if product else None
        if line is None:
            error = error or line_error
        else:
            line.error, line.notice = line_error, notice
    context = {"summary": summary, "error": error, "max_quantity": MAX_QUANTITY}
    if request.htmx:
        return _with_badge(request, "orders/cart.html#cart", context)
    return render(request, "orders/cart.html", context, status=status)


@customer_required
@require_GET
def cart(request):
    return _render_cart(request, Cart(request.session))


@customer_required
@require_GET
def mini_cart(request):
    """The header's cart summary, loaded when it opens (a partial; the full page without htmx)."""
    if not request.htmx:
        return redirect("orders:cart")
    return render(request, "orders/partials/mini_cart.html", {"summary": Cart(request.session).summary()})


@customer_required
@require_POST
def cart_update(request):
    cart = Cart(request.session)
    product, notice, error, status = _change_cart(CartQuantityForm(request.POST), cart.update)
    if _from_card(request):
        return _card_answer(request, cart, product, notice=notice, error=error, status=status)
    if not request.htmx and not error:
        if notice:
            messages.warning(request, notice)
        else:
            messages.success(request, f"{product.name}: quantity updated.")
        return redirect("orders:cart")
    return _render_cart(request, cart, line_feedback=(product, error, notice), status=status)


@customer_required
@require_POST
def cart_remove(request):
    cart = Cart(request.session)
    form = CartProductForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return _render_cart(request, cart, error=form.error_text())
        messages.error(request, form.error_text())
        return redirect("orders:cart")
    product = form.cleaned_data["product"]
    cart.remove(product.pk)
    if _from_card(request):
        return _card_answer(request, cart, product)
    if request.htmx:
        return _render_cart(request, cart)
    messages.success(request, f"Removed {product.name} from your cart.")
    return redirect("orders:cart")


# --- Checkout ------------------------------------------------------------------------


def _empty_cart(request):
    messages.info(request, "Your cart is empty. Add something from the shop first.")
    return redirect("orders:cart")


@customer_required
@require_http_methods(["GET", "POST"])
def checkout(request):
    cart = Cart(request.session)
    status = 200
    limited = None
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        limited = check_page_throttles(request, [OrderThrottle])
        if limited:
            # The same per-customer limit as the API; the cart is kept for a retry.
            messages.error(request, limited[0])
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                # Called even with an empty cart: a repeated submit of a form
                # that already made an order gets that order back.
                order, created = place_order(
                    customer=request.user,
                    lines=cart.as_order_lines(),
                    address=data["address"],
                    note=data["note"],
                    area=data["area"],
                    idempotency_key=str(data["idempotency_key"]),
                    latitude=data["latitude"],
                    longitude=data["longitude"],
                )
            except (BadPosition, OutsideServiceArea) as exc:
                form.add_error(None, str(exc))  # shown at the top of the form, next to the map
                status = exc.status_code
            except DomainError as exc:
                if cart.is_empty:
                    return _empty_cart(request)
                messages.error(request, str(exc))
                status = exc.status_code
            else:
                if created:
                    cart.clear()  # the order page says "Order placed!" while, and only while, it is placed
                else:
                    messages.info(request, f"Order {order.ref} was already placed; here it is.")
                return redirect(order)
        else:
            status = 400
    else:
        address, latitude, longitude = order_list_for(request.user).values_list(
            "address", "latitude", "longitude"
        ).first() or ("", None, None)
        form = CheckoutForm(initial={"address": address, "latitude": latitude, "longitude": longitude})
    if cart.is_empty:
        return _empty_cart(request)
    context = {"form": form, "summary": cart.summary(), "map": map_config()}
    response = render(request, "orders/checkout.html", context, status=status)
    if limited:
        response["Retry-After"] = str(limited[1])
    return response


# --- My orders -----------------------------------------------------------------------


@customer_required
@require_GET
def order_list(request):
    page = Paginator(order_list_for(request.user), ORDERS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orders/list.html", {"page": page, "orders": page.object_list})


def _order_for(request, ref):
    """The customer's own order with its items, timeline and rider, in a fixed
    number of queries; anyone else's order is a 404."""
    order = (
        with_details(orders_visible_to(request.user).select_related("partner__partner_profile")).filter(ref=ref).first()
    )
    if order is None:
        raise Http404("No such order.")
    return order


@customer_required
@require_GET
def order_detail(request, ref):
    order = _order_for(request, ref)
    return render(request, "orders/detail.html", {"order": order, "map": map_config(), "trail": trail_json(order)})


@customer_required
@require_POST
def order_cancel(request, ref):
    error = ""
    try:
        cancel_order(actor=request.user, order_ref=ref)
    except OrderNotFound:
        raise Http404("No such order.") from None
    except DomainError as exc:
        error = str(exc)
    if request.htmx:
        context = {"order": _order_for(request, ref), "error": error}
        return render(request, "orders/detail.html#order-status", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Order {ref} is cancelled.")
    return redirect("orders:detail", ref=ref)
