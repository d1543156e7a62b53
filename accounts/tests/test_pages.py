import pytest
from django.urls import reverse

from accounts.models import PartnerProfile, User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase"


def register(client, username, role, password=PASSWORD, **extra):
    data = {"username": username, "role": role, "password1": password, "password2": password, **extra}
    return client.post(reverse("accounts:register"), data)


@pytest.mark.parametrize(
    ("role", "home"),
    [("customer", "orders:catalog"), ("partner", "dispatch:board")],
)
def test_register_logs_in_and_lands_on_the_roles_home(client, role, home):
    response = register(client, "newbie", role, first_name="Newbie", phone="+1 555 0199")
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.role == role
    assert not user.is_staff
    assert PartnerProfile.objects.filter(user=user).exists() == (role == "partner")
    follow = client.get(response["Location"])
    assert follow.status_code == 302
    assert follow["Location"] == reverse(home)


def test_register_rejects_weak_password_and_mismatch_with_form_errors(client):
    response = register(client, "weak", "customer", password="123")
    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    response = client.post(
        reverse("accounts:register"),
        {"username": "x", "role": "customer", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert response.status_code == 200
    assert "password fields didn" in response.content.decode()
    assert not User.objects.filter(username__in=["weak", "x"]).exists()


def test_register_cannot_choose_admin(client):
    response = register(client, "sneaky", "admin")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not User.objects.filter(username="sneaky").exists()


@pytest.mark.parametrize(
    ("role", "home"),
    [("customer", "orders:catalog"), ("partner", "dispatch:board"), ("admin", "dispatch:dashboard")],
)
def test_login_lands_each_role_on_its_home(client, make_user, role, home):
    user = make_user(role)
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse(home)
    assert response.status_code == 200


def test_wrong_password_shows_the_form_error(client, customer):
    response = client.post(reverse("login"), {"username": customer.username, "password": "wrong-password"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_ends_the_session(client, customer):
    client.force_login(customer)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("role", "url_name", "allowed"),
    [
        ("customer", "dispatch:board", False),
        ("customer", "dispatch:dashboard", False),
        ("partner", "dispatch:dashboard", False),
        ("partner", "orders:list", False),
        ("admin", "dispatch:board", False),
        ("partner", "dispatch:board", True),
        ("admin", "dispatch:dashboard", True),
        ("customer", "orders:list", True),
    ],
)
def test_role_pages_refuse_other_roles_with_403(client, make_user, role, url_name, allowed):
    client.force_login(make_user(role))
    response = client.get(reverse(url_name))
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("url_name", ["dispatch:board", "dispatch:dashboard", "orders:list", "orders:cart"])
def test_anonymous_is_sent_to_login(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_createsuperuser_makes_an_admin(db):
    user = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    assert user.role == User.Role.ADMIN
    assert user.is_staff


def test_base_template_wires_csrf_for_htmx_and_vendored_assets(client, customer):
    client.force_login(customer)
    html = client.get(reverse("orders:catalog")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "/static/vendor/htmx-2.0.11.min.js" in html
    assert "/static/vendor/htmx-ext-ws-2.0.4.min.js" in html
    assert "cdn" not in html.lower()
    assert 'name="viewport"' in html
