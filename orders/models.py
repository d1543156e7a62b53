import re
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from imagekit.models import ImageSpecField

from orders.images import PRODUCT_IMAGE_HELP, Picture, Thumbnail, product_image_path, validate_product_image

# Order refs: 8 characters, no look-alikes (0/O, 1/I/L): easy to read out on a phone.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REF_LENGTH = 8
REF_PATTERN = f"[{REF_ALPHABET}]{{{REF_LENGTH}}}"


def new_ref() -> str:
    return "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def new_delivery_code() -> str:
    return f"{secrets.randbelow(10_000):04d}"


# Parts of an address that name a person, not a place: never shown as the area.
RECIPIENT_PART = re.compile(
    r"^\s*(c\s*/\s*o\b|c\.o\.|care\s+of\b|attn\b|attention\b|for\b|to\b|recipient\b|name\b|deliver\s+to\b)",
    re.IGNORECASE,
)
AREA_MAX_LENGTH = 60


def is_public_area(text: str) -> bool:
    """Whether ``text`` may be shown to every partner as an area: no digits (no house
    number, flat or postcode), no recipient ("c/o …", "attn …"), no e-mail."""
    text = text.strip()
    return (
        bool(text) and not any(char.isdigit() for char in text) and "@" not in text and not RECIPIENT_PART.match(text)
    )


def area_of(address: str) -> str:
    """A coarse locality for partners who may take the order: the address's last part
    (parts split by commas and line breaks) that :func:`is_public_area` allows, never the
    first part (the street). "Nearby" when no such part exists."""
    parts = [part.strip() for part in re.split(r"[,\r\n]+", address) if part.strip()]
    for part in reversed(parts[1:]):
        if is_public_area(part):
            return part[:AREA_MAX_LENGTH]
    return "Nearby"


class Category(models.Model):
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=40, blank=True, help_text="e.g. 1 kg, 500 ml, 6 pcs")
    price = models.DecimalField(max_digits=9, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))])
    stock = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    image = models.ImageField(
        upload_to=product_image_path,
        blank=True,
        validators=[validate_product_image],
        help_text=PRODUCT_IMAGE_HELP,
    )
    # Renditions at the sizes the pages use, made when a picture is saved (orders/images.py).
    thumbnail = ImageSpecField(source="image", spec=Thumbnail)
    picture = ImageSpecField(source="image", spec=Picture)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("orders:product", kwargs={"slug": self.slug})

    @property
    def in_stock(self):
        return self.active and self.stock > 0


class Order(models.Model):
    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        ACCEPTED = "accepted", "Accepted"
        PICKED_UP = "picked_up", "Picked up"
        OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    ref = models.CharField(max_length=REF_LENGTH, unique=True, default=new_ref, editable=False)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    partner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="deliveries",
        null=True,
        blank=True,
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLACED)
    # Bumped by every change; clients drop events older than what they have.
    version = models.PositiveIntegerField(default=1)
    subtotal = models.DecimalField(max_digits=10, decimal_places=2)
    delivery_fee = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    item_count = models.PositiveIntegerField(default=0)
    address = models.TextField()
    # The drop-off point (optional: API clients may send only the address); within
    # SERVICE_RADIUS_KM of the store (orders.geo).
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    area = models.CharField(max_length=60)
    note = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=64)
    delivery_code = models.CharField(max_length=4, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    out_for_delivery_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Newest first; pk breaks ties (MongoDB keeps milliseconds: a burst shares them).
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "idempotency_key"], name="order_unique_idempotency_key"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="order_status_created"),
            models.Index(fields=["partner", "status"], name="order_partner_status"),
        ]

    def __str__(self):
        return f"Order {self.ref}"

    def get_absolute_url(self):
        return reverse("orders:detail", kwargs={"ref": self.ref})

    @property
    def is_open(self):
        return self.status not in FINAL_STATUSES

    @property
    def code_locked(self):
        return self.code_attempts >= MAX_CODE_ATTEMPTS

    @property
    def customer_can_cancel(self):
        return can_transition(self.status, Order.Status.CANCELLED, "customer")


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    unit_price = models.DecimalField(max_digits=9, decimal_places=2)
    quantity = models.PositiveSmallIntegerField()
    line_total = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.quantity} x {self.name}"


class OrderEvent(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=Order.Status.choices)
    version = models.PositiveIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "version"]

    def __str__(self):
        return f"{self.order_id}: {self.status} v{self.version}"


class TrailPoint(models.Model):
    """Where the order's partner was while it was active (dispatch.location): the line
    on the customer's map. At most TRAIL_POINTS per order; deleted after
    LOCATION_RETENTION_HOURS by ``manage.py purge_locations``."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="trail")
    latitude = models.FloatField()
    longitude = models.FloatField()
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["order", "at"], name="trail_order_at")]

    def __str__(self):
        return f"{self.order_id}: {self.latitude:.5f},{self.longitude:.5f} at {self.at:%H:%M:%S}"


TRAIL_POINTS = 200

FINAL_STATUSES = frozenset({Order.Status.DELIVERED, Order.Status.CANCELLED})
ACTIVE_STATUSES = frozenset({Order.Status.ACCEPTED, Order.Status.PICKED_UP, Order.Status.OUT_FOR_DELIVERY})
MAX_CODE_ATTEMPTS = 5
# What one order may hold; the forms, the API's serializers and the services all check these.
MAX_LINES = 50
MAX_QUANTITY = 99
MAX_ADDRESS = 500
MAX_NOTE = 300

# Who changes orders: the three user roles (accounts.User.Role), and the system itself
# for the one change no person asks for (an accept withdrawn by the capacity rule).
SYSTEM = "system"


# The one table of allowed changes: from status -> {to status: roles that may}.
# orders.services.transition_order (the one function that changes an order), the
# templates (which buttons to show) and the tests all read this.
TRANSITIONS = {
    Order.Status.PLACED: {
        Order.Status.ACCEPTED: {"partner"},
        Order.Status.CANCELLED: {"customer", "admin"},
    },
    Order.Status.ACCEPTED: {
        Order.Status.PICKED_UP: {"partner"},
        # Back on the board: an admin's release, or the system withdrawing an accept.
        Order.Status.PLACED: {"admin", SYSTEM},
        # A status to itself is a change that keeps it: an admin reassigns, or unlocks the code.
        Order.Status.ACCEPTED: {"admin"},
        Order.Status.CANCELLED: {"admin"},
    },
    Order.Status.PICKED_UP: {
        Order.Status.OUT_FOR_DELIVERY: {"partner"},
        Order.Status.PICKED_UP: {"admin"},
        Order.Status.CANCELLED: {"admin"},
    },
    Order.Status.OUT_FOR_DELIVERY: {
        Order.Status.DELIVERED: {"partner"},
        Order.Status.OUT_FOR_DELIVERY: {"admin"},
        Order.Status.CANCELLED: {"admin"},
    },
    Order.Status.DELIVERED: {},
    Order.Status.CANCELLED: {},
}

# When each status was reached, for the timing columns.
STATUS_TIMESTAMP = {
    Order.Status.ACCEPTED: "accepted_at",
    Order.Status.PICKED_UP: "picked_up_at",
    Order.Status.OUT_FOR_DELIVERY: "out_for_delivery_at",
    Order.Status.DELIVERED: "delivered_at",
    Order.Status.CANCELLED: "cancelled_at",
}


def can_transition(from_status, to_status, role) -> bool:
    return role in TRANSITIONS.get(from_status, {}).get(to_status, set())


def next_partner_step(status):
    """The one status a partner may move an order to next, or None."""
    for to_status, roles in TRANSITIONS.get(status, {}).items():
        if "partner" in roles and to_status != Order.Status.ACCEPTED:
            return to_status
    return None
