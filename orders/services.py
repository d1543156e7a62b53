"""Every change to an order happens here (or in dispatch.services, which builds on
``transition_order``). Views, the API, the admin and the seed call these; nobody
saves an order's status directly, or the timeline and the live events would miss it.

Concurrency: no row locks and no multi-document transactions (MongoDB). Every
contested change is one conditional UPDATE (compare-and-set); see
"Correct under concurrency" in ARCHITECTURE.md.
"""

import logging
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from dispatch import events
from orders.errors import (
    InvalidOrder,
    InvalidTransition,
    NotAllowed,
    OrderChanged,
    OrderNotFound,
    OutOfStock,
    StockChanged,
)
from orders.models import (
    STATUS_TIMESTAMP,
    Order,
    OrderEvent,
    OrderItem,
    Product,
    area_of,
    can_transition,
)

logger = logging.getLogger(__name__)

MAX_LINES = 50
MAX_QUANTITY = 99
MAX_ADDRESS = 500
MAX_NOTE = 300
FREE_DELIVERY_FROM = Decimal("15.00")
DELIVERY_FEE = Decimal("1.99")
# Stock goes back to the shelf if the order is cancelled before the rider picks it up.
RESTOCK_STATUSES = {Order.Status.PLACED, Order.Status.ACCEPTED}


MAX_INT_PK = 2**63 - 1  # SQLite integers are 64-bit; bigger ids cannot exist


def _product_pk(value):
    """A product id from a client (int or string, on either store) as the store's pk."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidOrder(f"Unknown product: {value!r}.")
    try:
        pk = Product._meta.pk.to_python(value)
    except (ValidationError, TypeError, ValueError):
        raise InvalidOrder(f"Unknown product: {value!r}.") from None
    if isinstance(pk, int) and not 0 < pk <= MAX_INT_PK:
        raise InvalidOrder(f"Unknown product: {value!r}.")
    return pk


def normalise_lines(lines):
    """``[(product_id, quantity), ...]`` -> ``{pk: quantity}``, validated and merged."""
    if not lines:
        raise InvalidOrder("Your order has no items.")
    if len(lines) > MAX_LINES:
        raise InvalidOrder(f"An order can have at most {MAX_LINES} lines.")
    wanted = {}
    for line in lines:
        try:
            product_id, quantity = line
        except (TypeError, ValueError):
            raise InvalidOrder("Each line needs a product and a quantity.") from None
        pk = _product_pk(product_id)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidOrder("Quantities must be whole numbers.")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidOrder(f"Quantity must be between 1 and {MAX_QUANTITY}.")
        wanted[pk] = wanted.get(pk, 0) + quantity
    for quantity in wanted.values():
        if quantity > MAX_QUANTITY:
            raise InvalidOrder(f"Quantity must be between 1 and {MAX_QUANTITY}.")
    return wanted


def _give_back(taken):
    for pk, quantity in taken:
        Product.objects.filter(pk=pk).update(stock=F("stock") + quantity)


def _take_stock(products, wanted):
    """Per line, one conditional decrement. All or nothing: on a short line, what
    earlier lines took is given back and OutOfStock names the short product."""
    taken = []
    for pk in sorted(wanted, key=str):
        quantity = wanted[pk]
        if Product.objects.filter(pk=pk, active=True, stock__gte=quantity).update(stock=F("stock") - quantity):
            taken.append((pk, quantity))
            continue
        _give_back(taken)
        product = Product.objects.get(pk=pk)
        raise OutOfStock(product, product.stock if product.active else 0)
    return taken


def place_order(
    *,
    customer: User,
    lines: list[tuple],
    address: str,
    note: str = "",
    idempotency_key: str | None = None,
) -> tuple[Order, bool]:
    """Place an order. Returns ``(order, created)``; ``created`` is False when the
    idempotency key was used before, and the first order is returned unchanged."""
    if not customer.is_customer:
        raise NotAllowed("Only customers can place orders.")
    key = (idempotency_key or "").strip()
    if len(key) > 64:
        raise InvalidOrder("The idempotency key can be at most 64 characters.")
    if key:
        existing = Order.objects.filter(customer=customer, idempotency_key=key).first()
        if existing:
            return existing, False
    else:
        key = uuid.uuid4().hex
    address = (address or "").strip()
    note = (note or "").strip()
    if not address:
        raise InvalidOrder("Please enter a delivery address.")
    if len(address) > MAX_ADDRESS:
        raise InvalidOrder(f"The address can be at most {MAX_ADDRESS} characters.")
    if len(note) > MAX_NOTE:
        raise InvalidOrder(f"The note can be at most {MAX_NOTE} characters.")

    wanted = normalise_lines(lines)
    products = Product.objects.in_bulk(list(wanted))
    for pk in wanted:
        product = products.get(pk)
        if product is None:
            raise InvalidOrder(f"Unknown product: {pk}.")
        if not product.active:
            raise InvalidOrder(f"{product.name} is no longer sold.")

    taken = _take_stock(products, wanted)
    try:
        order = _create_order(customer, products, wanted, address, note, key)
    except IntegrityError:
        _give_back(taken)
        existing = Order.objects.filter(customer=customer, idempotency_key=key).first()
        if existing is None:
            raise
        return existing, False
    except BaseException:
        _give_back(taken)
        raise
    return order, True


def delivery_fee_for(subtotal: Decimal) -> Decimal:
    """The one delivery fee rule: free from FREE_DELIVERY_FROM, else DELIVERY_FEE."""
    return Decimal("0.00") if subtotal >= FREE_DELIVERY_FROM else DELIVERY_FEE


def _create_order(customer, products, wanted, address, note, key):
    items = []
    subtotal = Decimal("0.00")
    for pk, quantity in wanted.items():
        product = products[pk]
        line_total = product.price * quantity
        subtotal += line_total
        items.append(
            OrderItem(
                product=product, name=product.name, unit_price=product.price, quantity=quantity, line_total=line_total
            )
        )
    fee = delivery_fee_for(subtotal)
    with transaction.atomic():
        order = Order.objects.create(
            customer=customer,
            subtotal=subtotal,
            delivery_fee=fee,
            total=subtotal + fee,
            item_count=sum(wanted.values()),
            address=address,
            area=area_of(address),
            note=note,
            idempotency_key=key,
        )
        for item in items:
            item.order = order
        OrderItem.objects.bulk_create(items)
        OrderEvent.objects.create(order=order, status=order.status, version=order.version, actor=customer)
        transaction.on_commit(lambda: events.publish(events.NEW_ORDER, order))
    return order


def transition_order(
    *,
    order: Order,
    to_status: str,
    actor: User,
    match: dict | None = None,
    changes: dict | None = None,
    note: str = "",
    event: str = events.ORDER_STATUS_UPDATE,
) -> Order:
    """Move ``order`` to ``to_status`` if the transition table lets ``actor``'s role do it.

    One compare-and-set: the update only applies if the order still has the status
    and version we read (plus ``match``), so of two racing changes exactly one
    wins; the loser gets OrderChanged. Appends the OrderEvent and publishes after
    commit.
    """
    if to_status not in Order.Status.values:
        raise InvalidTransition(f"Unknown status: {to_status!r}.")
    if not can_transition(order.status, to_status, actor.role):
        raise InvalidTransition(
            f"Order {order.ref} is {order.get_status_display().lower()}; it cannot become "
            f"{Order.Status(to_status).label.lower()} now."
        )
    now = timezone.now()
    partner_before = order.partner_id
    updates = {"status": to_status, "version": F("version") + 1, "updated_at": now, **(changes or {})}
    if to_status in STATUS_TIMESTAMP:
        updates[STATUS_TIMESTAMP[to_status]] = now
    with transaction.atomic():
        won = Order.objects.filter(pk=order.pk, status=order.status, version=order.version, **(match or {})).update(
            **updates
        )
        if not won:
            raise OrderChanged()
        order.refresh_from_db()
        OrderEvent.objects.create(order=order, status=to_status, version=order.version, actor=actor, note=note)
        # A partner who lost the order (release) must see it leave their board.
        lost = partner_before if partner_before != order.partner_id else None
        transaction.on_commit(lambda: events.publish(event, order, previous_partner_id=lost))
    return order


def get_order_for(user: User, ref: str) -> Order:
    """The order ``ref`` if ``user`` may see it: customers their own, partners those
    assigned to them (and unassigned placed ones), admins all. Else OrderNotFound,
    so nobody learns that someone else's order exists."""
    from orders.selectors import orders_visible_to

    order = orders_visible_to(user).filter(ref=ref).first()
    if order is None:
        raise OrderNotFound()
    return order


def cancel_order(*, actor: User, order_ref: str, reason: str = "") -> Order:
    """Customers cancel their own order while it is placed; admins any open order."""
    order = get_order_for(actor, order_ref)
    role = actor.role
    if role == User.Role.PARTNER:
        raise NotAllowed("Delivery partners cannot cancel orders.")
    if not can_transition(order.status, Order.Status.CANCELLED, role):
        if order.status == Order.Status.CANCELLED:
            raise InvalidTransition("This order is already cancelled.")
        raise InvalidTransition(
            f"Order {order.ref} is already {order.get_status_display().lower()} and can no longer be cancelled."
        )
    restock = order.status in RESTOCK_STATUSES
    try:
        order = transition_order(order=order, to_status=Order.Status.CANCELLED, actor=actor, note=reason[:MAX_NOTE])
    except OrderChanged:
        # Lost a race (say, a partner accepted first): explain with the order as it is now.
        order.refresh_from_db()
        raise InvalidTransition(
            f"Order {order.ref} is already {order.get_status_display().lower()} and can no longer be cancelled."
        ) from None
    # Given back after the cancel is stored (no multi-document transactions): if the
    # process died in between, the stock would stay low, never oversold.
    if restock:
        _give_back([(item.product_id, item.quantity) for item in order.items.all()])
    return order


def set_stock(*, product: Product, shown: int, stock: int) -> None:
    """An admin's stock edit, compare-and-set against the stock they saw: a sale that
    happened meanwhile is never overwritten (StockChanged names the current stock)."""
    if not Product.objects.filter(pk=product.pk, stock=shown).update(stock=stock):
        current = Product.objects.filter(pk=product.pk).values_list("stock", flat=True).first()
        raise StockChanged(product, current, shown)
