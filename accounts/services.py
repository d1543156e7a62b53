"""Account changes. Pages, the API and the seed all register users through here."""

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError

from accounts.errors import UsernameTaken
from accounts.models import PartnerProfile, User
from accounts.usernames import check_username_shape, normalize, username_taken
from quickcommerce.db import atomic

SELF_SERVICE_ROLES = (User.Role.CUSTOMER, User.Role.PARTNER)


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

    Password validators and the username rules (accounts.usernames) run here, unless
    ``validate=False`` says the caller's form or serializer already ran them, so the page
    and the API enforce the same rules. ``UsernameTaken`` if the name's key is in use.

    The checks and the password's hash (a third of a second, by design) come before the
    transaction: on SQLite a transaction holds the store's one write lock, and every
    other writer, on every instance, would wait behind the hash."""
    if role not in SELF_SERVICE_ROLES:
        raise ValueError(f"role must be one of {', '.join(SELF_SERVICE_ROLES)}")
    # One normalisation for every way in (accounts.usernames); the unique key decides races.
    username = check_username_shape(username) if validate else normalize(username)
    if username_taken(username):
        raise UsernameTaken()
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
    try:
        with atomic():
            user.save()
            if role == User.Role.PARTNER:
                PartnerProfile.objects.create(user=user, display_name=user.display_name, phone=phone)
    except IntegrityError:  # the same name registered meanwhile
        raise UsernameTaken() from None
    return user


def partner_profile(partner: User) -> PartnerProfile:
    """The partner's profile, made on first need (partners made in the admin have none yet)."""
    profile, _ = PartnerProfile.objects.get_or_create(user=partner, defaults={"display_name": partner.display_name})
    return profile


def set_order_emails(*, user: User, enabled: bool) -> None:
    """Turn a customer's order emails on or off (notifications reads it when sending)."""
    User.objects.filter(pk=user.pk).update(order_emails=enabled)
    user.order_emails = enabled
