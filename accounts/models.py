from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class QuickUserManager(UserManager):
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

    objects = QuickUserManager()

    def __str__(self):
        return self.username

    def save(self, *args, **kwargs):
        # Admins are staff: they reach the Django admin. Nobody else is.
        if self.role == self.Role.ADMIN or self.is_superuser:
            self.role = self.Role.ADMIN
            self.is_staff = True
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

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class RevokedToken(models.Model):
    """A refresh token that may no longer be used: logged out, or rotated away
    (accounts.tokens). Rows past ``expires_at`` can be deleted; the token is dead anyway."""

    jti = models.CharField(max_length=255, unique=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.jti
