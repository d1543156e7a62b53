"""The session cart: product id -> quantity.

Prices are never stored here: the cart page prices every line from the catalog
on each request (``Cart.summary``) and ``orders.services.place_order`` prices the
order again when it is placed. The cart keeps what a customer could order now —
never more than is in stock, never more than ``MAX_QUANTITY`` of a product or
``MAX_LINES`` products — and says so when it had to cut a quantity down.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError

from orders.errors import InvalidOrder, OutOfStock
from orders.models import MAX_LINES, MAX_QUANTITY, Product
from orders.services import FREE_DELIVERY_FROM, delivery_fee_for

SESSION_KEY = "cart"
ZERO = Decimal("0.00")


def _valid_key(key) -> bool:
    try:
        Product._meta.pk.to_python(key)
    except (ValidationError, TypeError, ValueError):
        return False
    return True


@dataclass
class CartLine:
    product: Product
    quantity: int
    # Feedback for the line the customer just changed (shown next to it).
    error: str = ""
    notice: str = ""

    @property
    def key(self) -> str:
        return str(self.product.pk)

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity

    @property
    def problem(self) -> str:
        """Why this line cannot be ordered as it is, or ''."""
        if not self.product.active:
            return "No longer sold"
        if self.product.stock <= 0:
            return "Out of stock"
        if self.quantity > self.product.stock:
            return f"Only {self.product.stock} left"
        return ""


@dataclass
class CartSummary:
    lines: list[CartLine] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines), ZERO)

    @property
    def delivery_fee(self) -> Decimal:
        return delivery_fee_for(self.subtotal)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.delivery_fee

    @property
    def free_delivery_gap(self) -> Decimal:
        """How much more to spend for free delivery (0 once reached)."""
        return max(FREE_DELIVERY_FROM - self.subtotal, ZERO)

    @property
    def has_problems(self) -> bool:
        return any(line.problem for line in self.lines)

    def line_for(self, product) -> CartLine | None:
        key = str(getattr(product, "pk", product))
        return next((line for line in self.lines if line.key == key), None)


class Cart:
    def __init__(self, session):
        self.session = session
        raw = session.get(SESSION_KEY)
        raw = raw if isinstance(raw, dict) else {}
        self.lines = {
            str(key): int(value)
            for key, value in raw.items()
            if isinstance(value, int) and not isinstance(value, bool) and value > 0 and _valid_key(key)
        }

    def __len__(self):
        return len(self.lines)

    @property
    def count(self) -> int:
        return sum(self.lines.values())

    @property
    def is_empty(self) -> bool:
        return not self.lines

    def quantity(self, product_id) -> int:
        return self.lines.get(str(product_id), 0)

    def add(self, product: Product, quantity: int) -> str:
        """Put ``quantity`` more of ``product`` in the cart. Returns a notice ('' if
        none) when less than asked was kept; raises OutOfStock / InvalidOrder when
        the product cannot be ordered at all."""
        return self._store(product, self.quantity(product.pk) + quantity)

    def update(self, product: Product, quantity: int) -> str:
        """Set the quantity of a product already in the cart (same rules as ``add``)."""
        if str(product.pk) not in self.lines:
            raise InvalidOrder(f"{product.name} is not in your cart.")
        return self._store(product, quantity)

    def remove(self, product_id) -> None:
        if self.lines.pop(str(product_id), None) is not None:
            self._save()

    def clear(self) -> None:
        self.lines = {}
        self._save()

    def as_order_lines(self) -> list[tuple[str, int]]:
        return list(self.lines.items())

    def summary(self) -> CartSummary:
        """The cart priced from the catalog as it is now (one query). Products that
        no longer exist are dropped; inactive or short ones stay, flagged."""
        if not self.lines:
            return CartSummary()
        products = {str(p.pk): p for p in Product.objects.filter(pk__in=list(self.lines)).select_related("category")}
        gone = [key for key in self.lines if key not in products]
        if gone:
            for key in gone:
                del self.lines[key]
            self._save()
        return CartSummary([CartLine(products[key], quantity) for key, quantity in self.lines.items()])

    def _store(self, product: Product, quantity: int) -> str:
        if not product.active:
            raise InvalidOrder(f"{product.name} is no longer sold.")
        if product.stock <= 0:
            raise OutOfStock(product, 0)
        key = str(product.pk)
        if key not in self.lines and len(self.lines) >= MAX_LINES:
            raise InvalidOrder(f"Your cart can hold at most {MAX_LINES} different products.")
        kept = min(quantity, product.stock, MAX_QUANTITY)
        self.lines[key] = kept
        self._save()
        if quantity > product.stock:
            return f"Only {product.stock} left of {product.name}; your cart has {kept}."
        if quantity > MAX_QUANTITY:
            return f"You can order at most {MAX_QUANTITY} of {product.name}."
        return ""

    def _save(self) -> None:
        self.session[SESSION_KEY] = self.lines
        self.session.modified = True
