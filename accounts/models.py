from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models

from accounts.usernames import KEY_MAX_LENGTH, username_key


class QuickUserManager(UserManager):
    def get_by_natural_key(self, username):
        """Every login (page, admin, API token) finds its user here: by the name's key,
        exactly as the login limit counts it (accounts.usernames)."""
        return self.get(username_key=username_key(str(username)))

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", User.Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    class Role(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        PARTNER = "partner", "Delivery partner"
        ADMIN = "admin", "Admin"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    phone = models.CharField(max_length=32, blank=True)
    # Customers get an email when their order is accepted, out for delivery, delivered or
    # cancelled (notifications); they turn it off on /accounts/settings/.
    order_emails = models.BooleanField("email me about my orders", default=True)
    # The username's identity: NFKC and case-folded (accounts.usernames), kept by save().
    # Unique and indexed on both stores; logins and the taken-check look it up exactly.
    username_key = models.CharField(max_length=KEY_MAX_LENGTH, unique=True, editable=False)

    objects = QuickUserManager()

    def __str__(self):
        return self.username

    def save(self, *args, **kwargs):
        # Admins are staff: they reach the Django admin. Nobody else is.
        if self.role == self.Role.ADMIN or self.is_superuser:
            self.role = self.Role.ADMIN
            self.is_staff = True
        self.username_key = username_key(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_key"}
        super().save(*args, **kwargs)

    @property
    def is_customer(self):
        return self.role == self.Role.CUSTOMER

    @property
    def is_partner(self):
        return self.role == self.Role.PARTNER

    @property
    def is_admin(self):
        return self.role == self.Role.ADMIN

    @property
    def display_name(self):
        return self.get_full_name() or self.username


class PartnerProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="partner_profile")
    display_name = models.CharField(max_length=80)
    phone = models.CharField(max_length=32, blank=True)
    online = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    # The last position the partner shared while on a delivery (dispatch.location), and
    # when; personal data: who sees it and how long it is kept, docs/security.md.
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    located_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class RevokedToken(models.Model):
    """A refresh token that may no longer be used: logged out, or rotated away; or, with
    ``jti`` ``"family:<id>"``, every refresh token of a log-in's family, after one of them
    was reused (accounts.tokens). Rows past ``expires_at`` can be deleted; the tokens
    are dead anyway."""

    jti = models.CharField(max_length=255, unique=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.jti
