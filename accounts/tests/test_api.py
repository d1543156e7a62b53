import pytest

from accounts.models import PartnerProfile, User

pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"
TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"


@pytest.mark.parametrize("role", ["customer", "partner"])
def test_register_through_the_api(client, role):
    response = client.post(
        REGISTER,
        {"username": f"api-{role}", "password": "a-long-passphrase", "role": role, "phone": "+1 555 0111"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == f"api-{role}"
    assert body["role"] == role
    assert "password" not in body
    user = User.objects.get(username=f"api-{role}")
    assert user.check_password("a-long-passphrase")
    assert PartnerProfile.objects.filter(user=user).exists() == (role == "partner")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": "a-long-passphrase", "role": "customer"}, "username"),
        ({"username": "u1", "role": "customer"}, "password"),
        ({"username": "u1", "password": "a-long-passphrase"}, "role"),
        ({"username": "u1", "password": "a-long-passphrase", "role": "admin"}, "role"),
        ({"username": "u1", "password": "short", "role": "customer"}, "password"),
        ({"username": "bad name!", "password": "a-long-passphrase", "role": "customer"}, "username"),
        ({"username": "u1", "password": "a-long-passphrase", "role": "customer", "email": "nope"}, "email"),
    ],
)
def test_register_bad_input_is_400_with_messages(client, payload, field):
    response = client.post(REGISTER, payload, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert response.json()[field], "each error carries a message"
    assert not User.objects.exists()


def test_register_duplicate_username_is_409(client, customer):
    """A taken name (in any case) conflicts with an existing account: 409 {detail, code}."""
    response = client.post(
        REGISTER,
        {"username": customer.username.upper(), "password": "a-long-passphrase", "role": "customer"},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "A user with that username already exists.", "code": "username_taken"}


@pytest.mark.parametrize("body", ["{not json", "[]", '"a string"', "null"])
def test_register_malformed_json_is_400_not_500(client, body):
    response = client.post(REGISTER, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()


def test_token_obtain_and_refresh(client, partner):
    response = client.post(
        TOKEN, {"username": partner.username, "password": "a-long-passphrase"}, content_type="application/json"
    )
    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    refreshed = client.post(REFRESH, {"refresh": pair["refresh"]}, content_type="application/json")
    assert refreshed.status_code == 200
    assert refreshed.json()["access"]


def test_token_wrong_password_is_401_and_bad_refresh_is_401(client, partner):
    response = client.post(TOKEN, {"username": partner.username, "password": "nope"}, content_type="application/json")
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"detail", "code"}, "README: errors are {detail, code}"
    assert body["code"] == "no_active_account" and body["detail"]
    response = client.post(REFRESH, {"refresh": "garbage"}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    me = client.get("/api/auth/me/")
    assert me.status_code == 401 and me.json()["code"] == "not_authenticated"


def test_token_missing_fields_is_400(client):
    response = client.post(TOKEN, {}, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_schema_and_docs_are_served_locally(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/auth/register/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_me_answers_who_the_token_belongs_to(client, make_user):
    partner = make_user("partner", username="rita")
    make_user("customer", username="carl")
    access = client.post(
        TOKEN, {"username": "rita", "password": "a-long-passphrase"}, content_type="application/json"
    ).json()["access"]
    response = client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(partner.pk),
        "username": "rita",
        "role": "partner",
        "email": partner.email,
        "phone": partner.phone,
        "first_name": partner.first_name,
    }
    assert client.get("/api/auth/me/").status_code == 401
    assert client.get("/api/auth/me/", HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["customer", "partner"])
def test_registration_hashes_the_password_before_its_transaction(client, monkeypatch, role):
    # Hashing takes a third of a second by design, and a transaction on SQLite holds the
    # store's one write lock (BEGIN IMMEDIATE): other instances' writers waited behind
    # every sign-up's hash, and under a burst of sign-ups gave up with "database is
    # locked" after the busy timeout, a 500 (seen in the benchmark's accept race).
    from django.contrib.auth import base_user
    from django.db import connection

    import accounts.services

    seen = []
    hash_password, check_password = base_user.make_password, accounts.services.validate_password

    def hashing(*args, **kwargs):
        seen.append(("hash", connection.in_atomic_block))
        return hash_password(*args, **kwargs)

    def validating(*args, **kwargs):
        seen.append(("validate", connection.in_atomic_block))
        return check_password(*args, **kwargs)

    monkeypatch.setattr(base_user, "make_password", hashing)
    monkeypatch.setattr(accounts.services, "validate_password", validating)

    if role == "partner":  # the service itself, validating (the pages' and the seed's way in)
        accounts.services.register_user(username=f"lock-{role}", password="a-long-passphrase", role=role)
        assert ("validate", False) in seen
    else:  # the API (its serializer validated the password already)
        response = client.post(
            REGISTER,
            {"username": f"lock-{role}", "password": "a-long-passphrase", "role": role},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content

    assert ("hash", False) in seen
    assert not any(inside for _, inside in seen), seen
    user = User.objects.get(username=f"lock-{role}")
    assert user.check_password("a-long-passphrase")
    assert PartnerProfile.objects.filter(user=user).exists() == (role == "partner")
