"""Account changes. Pages, the API and the seed all register users through here."""

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from accounts.models import PartnerProfile, User

SELF_SERVICE_ROLES = (User.Role.CUSTOMER, User.Role.PARTNER)


@transaction.atomic
def register_user(
    *,
    username: str,
    password: str,
    role: str,
    email: str = "",
    phone: str = "",
    first_name: str = "",
    last_name: str = "",
    validate: bool = True,
) -> User:
    """Create a customer or partner (admins come from createsuperuser or the seed).

    Password validators run here so the page and the API enforce the same rules.
    """
    if role not in SELF_SERVICE_ROLES:
        raise ValueError(f"role must be one of {', '.join(SELF_SERVICE_ROLES)}")
    user = User(
        username=username,
        email=email,
        phone=phone,
        role=role,
        first_name=first_name,
        last_name=last_name,
    )
    if validate:
        validate_password(password, user)
    user.set_password(password)
    user.save()
    if role == User.Role.PARTNER:
        PartnerProfile.objects.create(user=user, display_name=user.display_name, phone=phone)
    return user
