"""factory_boy factories for users.

Users are made the way the app makes them: customers and partners through
``accounts.services.register_user`` (so partners get their PartnerProfile), admins
through ``create_superuser`` (as ``createsuperuser`` and the seed do).

    customer = CustomerFactory()
    rider = PartnerFactory(first_name="Ravi")
    boss = AdminFactory()
"""

import factory
from factory.django import DjangoModelFactory

from accounts.models import User
from accounts.services import register_user

DEFAULT_PASSWORD = "a-long-passphrase"  # noqa: S105 - test users only


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    phone = factory.Sequence(lambda n: f"+1 555 {n % 10_000:04d}")
    role = User.Role.CUSTOMER
    password = DEFAULT_PASSWORD

    @classmethod
    def _build(cls, model_class, *args, password=DEFAULT_PASSWORD, **kwargs):
        user = model_class(*args, **kwargs)
        user.set_password(password)
        return user

    @classmethod
    def _create(cls, model_class, *args, password=DEFAULT_PASSWORD, role=User.Role.CUSTOMER, **kwargs):
        if role == User.Role.ADMIN:
            username = kwargs.pop("username")
            email = kwargs.pop("email", "")
            admin = model_class.objects.create_superuser(username=username, email=email, password=password)
            if kwargs:
                model_class.objects.filter(pk=admin.pk).update(**kwargs)
                admin.refresh_from_db()
            return admin
        return register_user(role=role, password=password, validate=False, **kwargs)


class CustomerFactory(UserFactory):
    username = factory.Sequence(lambda n: f"customer{n}")
    role = User.Role.CUSTOMER


class PartnerFactory(UserFactory):
    """A delivery partner with a PartnerProfile (offline until set_availability)."""

    username = factory.Sequence(lambda n: f"partner{n}")
    role = User.Role.PARTNER


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    role = User.Role.ADMIN
