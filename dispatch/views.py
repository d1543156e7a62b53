"""Partner pages (the board, the history) and their actions; the admins' dashboard.

Every partner action is a form that works without JavaScript (POST, a message,
redirect back to the board) and, sent by htmx, answers with partials of
dispatch/board.html: the swapped target plus out-of-band pieces (the notice in
#board-messages, a card to drop, the available list to refresh).
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap

from accounts.models import User
from accounts.permissions import role_required
from accounts.selectors import is_partner_online
from dispatch import fragments, selectors, services
from dispatch.errors import DeliveryCodeLocked, OrderAlreadyTaken, WrongDeliveryCode
from dispatch.forms import AdvanceForm, AvailabilityForm
from orders.errors import InvalidTransition, OrderNotFound
from orders.models import Order
from quickcommerce.errors import DomainError

BOARD = "dispatch/board.html"
HISTORY_PAGE_SIZE = 20

MESSAGE_LEVELS = {
    "success": messages.SUCCESS,
    "info": messages.INFO,
    "warning": messages.WARNING,
    "error": messages.ERROR,
}

STEP_DONE = {
    Order.Status.PICKED_UP: "Order {ref} picked up. Start the delivery when you are on your way.",
    Order.Status.OUT_FOR_DELIVERY: "Order {ref} is out for delivery.",
    Order.Status.DELIVERED: "Order {ref} delivered. Nice work! It is in your history now.",
}

partner_required = role_required(User.Role.PARTNER)


def _wants_fragment(request) -> bool:
    """An htmx request that swaps part of the page (not a boosted link or a history restore)."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


def _fragments(request, *parts, swap=None) -> HttpResponse:
    """One htmx answer made of partials of board.html: ``(partial name, context)`` pairs,
    the first one for the request's target, the others out of band."""
    html = "".join(render_to_string(f"{BOARD}#{name}", context, request=request) for name, context in parts)
    response = HttpResponse(html)
    return reswap(response, swap) if swap else response


def _notice(text="", level="success", *, ref="", version=None):
    """The out-of-band notice in #board-messages (an empty one clears the last notice).
    A notice about an order names it (``ref``, ``version`` when known): the page drops it
    once the board shows a later change (static/js/app.js)."""
    notice = {"text": text, "level": level, "ref": ref, "version": version} if text else None
    return "board-messages", {"notice": notice, "oob": True}


def _back_to_board(request, text, level="success"):
    messages.add_message(request, MESSAGE_LEVELS[level], text)
    return redirect("dispatch:board")


@partner_required
@require_GET
@vary_on_headers("HX-Request")
def board(request):
    context = selectors.board_context(request.user)
    return render(request, f"{BOARD}#board" if _wants_fragment(request) else BOARD, context)


@partner_required
@require_POST
def availability(request):
    form = AvailabilityForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Choose online or offline.")
    online = form.cleaned_data["online"]
    services.set_availability(partner=request.user, online=online)
    text = (
        "You are online. New orders show up on your board."
        if online
        else "You are offline. You will not get new orders until you go online."
    )
    if not _wants_fragment(request):
        return _back_to_board(request, text, "info")
    return _fragments(request, ("board", selectors.board_context(request.user)), _notice(text, "info"))


@partner_required
@require_POST
def accept(request, ref):
    try:
        order = services.accept_order(partner=request.user, order_ref=ref)
    except OrderNotFound:
        raise Http404("No such order.") from None
    except DomainError as error:
        # Taken or cancelled meanwhile: the card goes. Offline or at capacity: it stays.
        gone = isinstance(error, OrderAlreadyTaken | InvalidTransition)
        level = "warning" if gone else "error"
        if not _wants_fragment(request):
            return _back_to_board(request, str(error), level)
        drop = [("remove-card", {"ref": ref})] if gone else []
        return _fragments(request, *drop, _notice(str(error), level, ref=ref), swap="none")

    text = f"Order {order.ref} is yours. Pick it up at the store."
    if not _wants_fragment(request):
        return _back_to_board(request, text)
    active = selectors.board_active_orders(request.user)
    parts = [("active-orders", {"active": active}), ("remove-card", {"ref": order.ref})]
    if not selectors.can_accept_more(online=True, active_count=len(active)):
        # At capacity now: the other cards lose their Accept buttons.
        available = selectors.board_available_orders()
        parts.append(("available-list", {"available": available, "can_accept": False, "oob": True}))
    return _fragments(request, *parts, _notice(text, ref=order.ref, version=order.version))


@partner_required
@require_POST
def advance(request, ref):
    form = AdvanceForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Choose a valid status.")
    try:
        order = services.advance_order(
            partner=request.user,
            order_ref=ref,
            to_status=form.cleaned_data["status"],
            code=form.cleaned_data["code"],
        )
    except OrderNotFound:
        raise Http404("No such order.") from None  # someone else's order: do not reveal it
    except DomainError as error:
        if not _wants_fragment(request):
            return _back_to_board(request, str(error), "error")
        context = {"active": selectors.board_active_orders(request.user)}
        if isinstance(error, WrongDeliveryCode | DeliveryCodeLocked):
            # Shown next to the code field, with the tries left.
            context["code_error"] = {"ref": ref, "message": str(error)}
            return _fragments(request, ("active-orders", context), _notice())
        return _fragments(request, ("active-orders", context), _notice(str(error), "error"))

    text = STEP_DONE[order.status].format(ref=order.ref)
    if not _wants_fragment(request):
        return _back_to_board(request, text)
    active = selectors.board_active_orders(request.user)
    parts = [("active-orders", {"active": active})]
    if order.status == Order.Status.DELIVERED and is_partner_online(request.user):
        # A free hand again: bring back the Accept buttons (and anything new).
        can_accept = selectors.can_accept_more(online=True, active_count=len(active))
        available = selectors.board_available_orders()
        parts.append(("available-list", {"available": available, "can_accept": can_accept, "oob": True}))
    return _fragments(request, *parts, _notice(text, ref=order.ref, version=order.version))


@partner_required
@require_GET
def history(request):
    deliveries = selectors.delivered_orders_of(request.user)
    page = Paginator(deliveries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    orders = list(page.object_list)
    for order in orders:
        order.minutes = selectors.delivery_minutes(order)
    context = {
        "page": page,
        "orders": orders,
        "total_count": page.paginator.count,
        "today_count": selectors.deliveries_since(request.user, selectors.start_of_today()),
    }
    return render(request, "dispatch/history.html", context)


@role_required(User.Role.ADMIN)
@vary_on_headers("HX-Request")
def dashboard(request):
    """The admins' live dashboard; for htmx (filter links, the one-minute refresh) the
    orders panel plus fresh counts, timing, partners and chart as out-of-band swaps."""
    context = fragments.dashboard_context(status_filter=selectors.clean_filter(request.GET.get("status")))
    if request.htmx and not request.htmx.history_restore_request:
        return HttpResponse(fragments.dashboard_refresh_html(context))
    return render(request, fragments.DASHBOARD, context)
