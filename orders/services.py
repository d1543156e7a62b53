"""Every change to an order happens here. ``transition_order`` is the one function
that changes an order once it exists: dispatch.services (accepting, delivering, the
admin's operations) builds on it. Views, the API, the admin and the seed call these;
nobody saves an order directly, or the timeline and the live events would miss it.

Concurrency: no row locks. Every contested change is one conditional UPDATE
(compare-and-set); the writes of one change share a transaction on either store
(``quickcommerce.db.atomic``), so the live event goes out only after the commit. See
"Concurrency" in docs/architecture.md and docs/stores.md.
"""

import logging
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from orders.errors import (
    InvalidOrder,
    InvalidTransition,
    NotAllowed,
    OrderChanged,
    OutOfStock,
    StockChanged,
)
from orders.geo import drop_off
from orders.models import (
    AREA_MAX_LENGTH,
    MAX_ADDRESS,
    MAX_LINES,
    MAX_NOTE,
    MAX_QUANTITY,
    STATUS_TIMESTAMP,
    SYSTEM,
    Order,
    OrderEvent,
    OrderItem,
    Product,
    area_of,
    can_transition,
    is_public_area,
)
from orders.selectors import order_as_written, order_for
from orders.signals import NEW_ORDER, ORDER_STATUS_UPDATE, announce_after_commit
from quickcommerce.db import atomic, is_write_conflict

logger = logging.getLogger(__name__)

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


def _take_stock(wanted):
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
    area: str = "",
    idempotency_key: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> tuple[Order, bool]:
    """Place an order. Returns ``(order, created)``; ``created`` is False when the
    idempotency key was used before, and the first order is returned unchanged.

    ``latitude``/``longitude``: the drop-off point (optional, both or neither); outside
    the service area it is refused (``OutsideServiceArea``) before any stock is taken.

    ``area`` is what every partner sees before one accepts: the customer's own choice
    when given (checked by ``is_public_area``), else derived from the address."""
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
    area = " ".join((area or "").split())
    if area and (len(area) > AREA_MAX_LENGTH or not is_public_area(area)):
        raise InvalidOrder(
            "Every rider sees the area before one accepts: give a neighbourhood, without numbers or names "
            f"(at most {AREA_MAX_LENGTH} characters)."
        )
    area = area or area_of(address)
    point = drop_off(latitude, longitude)

    wanted = normalise_lines(lines)
    products = Product.objects.order_by().in_bulk(list(wanted))  # a dict: no sort
    for pk in wanted:
        product = products.get(pk)
        if product is None:
            raise InvalidOrder(f"Unknown product: {pk}.")
        if not product.active:
            raise InvalidOrder(f"{product.name} is no longer sold.")

    taken = _take_stock(wanted)
    try:
        order = _create_order(customer, products, wanted, address, area, note, key, point)
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


def _create_order(customer, products, wanted, address, area, note, key, point):
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
    with atomic():
        order = Order.objects.create(
            customer=customer,
            subtotal=subtotal,
            delivery_fee=fee,
            total=subtotal + fee,
            item_count=sum(wanted.values()),
            address=address,
            latitude=point[0] if point else None,
            longitude=point[1] if point else None,
            area=area,
            note=note,
            idempotency_key=key,
        )
        for item in items:
            item.order = order
        OrderItem.objects.bulk_create(items)
        first = OrderEvent.objects.create(order=order, status=order.status, version=order.version, actor=customer)
        # All of the order is written here, so the live event and the API's answer use it
        # as written (no read after the commit).
        announce_after_commit(NEW_ORDER, order, written=order_as_written(order, items=items, events=[first]))
    return order


def transition_order(
    *,
    order: Order,
    to_status: str,
    actor: User | None,
    match: dict | None = None,
    changes: dict | None = None,
    note: str = "",
    event: str = ORDER_STATUS_UPDATE,
) -> Order:
    """Change ``order``: move it to ``to_status`` (or, with its own status, change it in
    place) if the transition table lets ``actor``'s role do it. ``actor=None`` is the
    system itself (the timeline shows no person).

    One compare-and-set: the update only applies if the order still has the status
    and version we read (plus ``match``), so of two racing changes exactly one
    wins; the loser gets OrderChanged. Bumps the version, records the OrderEvent and
    announces the change after commit (to a partner who lost the order, too).
    """
    if to_status not in Order.Status.values:
        raise InvalidTransition(f"Unknown status: {to_status!r}.")
    role = actor.role if actor is not None else SYSTEM
    if not can_transition(order.status, to_status, role):
        raise InvalidTransition(
            f"Order {order.ref} is {order.get_status_display().lower()}; it cannot become "
            f"{Order.Status(to_status).label.lower()} now."
        )
    now = timezone.now()
    partner_before = order.partner_id
    updates = {"status": to_status, "version": F("version") + 1, "updated_at": now, **(changes or {})}
    if to_status != order.status and to_status in STATUS_TIMESTAMP:
        updates.setdefault(STATUS_TIMESTAMP[to_status], now)
    with atomic():
        try:
            won = Order.objects.filter(pk=order.pk, status=order.status, version=order.version, **(match or {})).update(
                **updates
            )
        except DatabaseError as error:
            # MongoDB: another open transaction wrote this order first. The same lost race
            # as matching nothing (on SQLite writers queue and the filter decides).
            if is_write_conflict(error):
                raise OrderChanged() from None
            raise
        if not won:
            raise OrderChanged()
        order.refresh_from_db()
        OrderEvent.objects.create(order=order, status=to_status, version=order.version, actor=actor, note=note)
        # A partner who lost the order (release, reassign, a withdrawn accept) must see it leave their board.
        lost = partner_before if partner_before != order.partner_id else None
        announce_after_commit(event, order, previous_partner_id=lost)
    return order


def cancel_order(*, actor: User, order_ref: str, reason: str = "") -> Order:
    """Customers cancel their own order while it is placed; admins any open order."""
    role = getattr(actor, "role", None) if actor is not None and actor.is_authenticated else None
    if role == User.Role.PARTNER:
        raise NotAllowed("Delivery partners cannot cancel orders.")
    if role not in (User.Role.CUSTOMER, User.Role.ADMIN):
        raise NotAllowed("Only the customer or an admin can cancel an order.")
    order = order_for(actor, order_ref)
    if role == User.Role.ADMIN:
        reason = reason or "Cancelled by an admin."
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
    # Given back after the cancel is committed, outside its transaction: a stock write
    # inside a MongoDB transaction would conflict with concurrent orders taking stock. If
    # the process died in between, the stock would stay low, never oversold.
    if restock:
        _give_back([(item.product_id, item.quantity) for item in order.items.all()])
    return order


def set_stock(*, product: Product, shown: int, stock: int) -> None:
    """An admin's stock edit, compare-and-set against the stock they saw: a sale that
    happened meanwhile is never overwritten (StockChanged names the current stock)."""
    if not Product.objects.filter(pk=product.pk, stock=shown).update(stock=stock):
        current = Product.objects.filter(pk=product.pk).values_list("stock", flat=True).first()
        raise StockChanged(product, current, shown)
