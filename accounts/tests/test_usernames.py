"""Usernames (accounts/usernames.py, docs/security.md "Usernames"): one normalisation for
every way in, an exact lookup of an indexed key instead of ``username__iexact``, and
look-alike names refused at sign-up on the page, the API and the admin.

Look-alike characters are written as escapes: ``\\uff42`` is a full-width b, ``\\u0435``
a Cyrillic e, ``\\U0001d41b`` a mathematical bold b.
"""

import pytest
from django.contrib.auth import authenticate
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts import services
from accounts.models import User
from accounts.usernames import check_username_shape, login_key, normalize, username_key
from quickcommerce.testing import interleave

PASSWORD = "a-long-passphrase"
REGISTER = "/api/auth/register/"

# Spellings of "bob" that log in as bob (and count as bob).
BOB_SPELLINGS = [
    "bob",
    "BOB",
    "Bob",
    " bob ",
    "\uff42ob",  # full-width b
    "\uff42\uff4f\uff42",  # all full-width
    "\uff22\uff2f\uff22",  # full-width capitals
    "\U0001d41b\U0001d428\U0001d41b",  # mathematical bold
    "\u24d1\u24de\u24d1",  # circled letters
    "bob\u3000",  # an ideographic space after it
]

REFUSED_NAMES = {
    "424242": "no_letter",  # all digits: looks like an id or a JSON number
    "1.5": "no_letter",
    "+44-20": "no_letter",
    "\uff14\uff12\uff14\uff12": "no_letter",  # full-width digits are digits
    "alic\u0435": "mixed_script",  # Cyrillic e at the end
    "\u0430dmin": "mixed_script",  # Cyrillic a
    "b\u03bfb": "mixed_script",  # Greek omicron
    "al\u0131ce": "confusable",  # Latin dotless i
    "\u0251dmin": "confusable",  # Latin alpha
    "\u0412\u041e\u0412": "confusable",  # Cyrillic capitals that read BOB
    "\u0430\u0441\u0435": "confusable",  # Cyrillic letters that read ace
    "\u0391\u0392\u0395": "confusable",  # Greek capitals that read ABE
    "bad name": "invalid",
    "a" * 151: "max_length",
}

ACCEPTED_NAMES = [
    "asha",
    "zo\u00eb_\u00fc",
    "\u0418\u0432\u0430\u043d",
    "\u4e2d\u6587",
    "a.b@c+d-e_f1",
    "x1",
    "Stra\u00dfe",
]


# --- the key -----------------------------------------------------------------------------


@given(st.text(max_size=40))
def test_the_key_is_a_fixed_point_whatever_is_stripped_or_normalised_first(text):
    """The login limit keys on username_key(raw); the page's form authenticates
    username_key(NFKC(strip(raw))) and the API username_key(strip(raw)): the same."""
    key = username_key(text)
    assert username_key(key) == key
    assert username_key(text.strip()) == key
    assert username_key(normalize(text)) == key
    assert login_key(text) == (key or None)


@pytest.mark.parametrize("spelling", BOB_SPELLINGS)
def test_every_spelling_of_a_name_has_its_key(spelling):
    assert username_key(spelling) == "bob"


@pytest.mark.parametrize("value", [424242, 424242.0, True, None, ["bob"], {"bob": 1}])
def test_what_is_not_a_string_names_no_one(value):
    assert login_key(value) is None


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", BOB_SPELLINGS)
def test_every_spelling_logs_in_as_the_one_account(make_user, spelling):
    bob = make_user("customer", username="bob")
    assert bob.username_key == "bob"
    assert authenticate(None, username=spelling, password=PASSWORD) == bob


@pytest.mark.django_db
def test_the_key_follows_renames_and_is_unique_in_the_store(make_user):
    from django.db import IntegrityError, transaction

    user = make_user("customer", username="carol")
    user.username = "Caroline"
    user.save(update_fields=["username"])
    user.refresh_from_db()
    assert user.username_key == "caroline"
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="CAROLINE", password=PASSWORD)  # bypassing every form


@pytest.mark.django_db
def test_lookups_are_one_exact_match_on_the_key_never_iexact(make_user):
    from django.test.utils import CaptureQueriesContext

    make_user("customer", username="dora")
    with CaptureQueriesContext(connection) as queries:
        assert authenticate(None, username="DORA", password=PASSWORD) is not None
        check = services.username_taken("Dora")
    assert check is True
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "username_key" in sql
    assert "LIKE" not in sql.upper()  # iexact is a LIKE on SQLite (a $regex on MongoDB)


# --- the rules for a new name ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "code"), REFUSED_NAMES.items())
def test_confusable_digit_only_and_mixed_script_names_are_refused(name, code):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        check_username_shape(name)
    assert refused.value.error_list[0].code == code
    assert refused.value.messages[0]


@pytest.mark.parametrize("name", ACCEPTED_NAMES)
def test_names_in_one_script_without_lookalikes_pass(name):
    assert check_username_shape(name) == normalize(name)


# --- every way in: the API, the page, the admin -----------------------------------------------


def api_register(client, username):
    body = {"username": username, "password": PASSWORD, "role": "customer"}
    return client.post(REGISTER, body, content_type="application/json")


def page_register(client, username):
    data = {"username": username, "role": "customer", "password1": PASSWORD, "password2": PASSWORD}
    return client.post(reverse("accounts:register"), data)


def admin_add(client, username):
    data = {"username": username, "role": "customer", "usable_password": "true", "password1": PASSWORD}
    return client.post(reverse("admin:accounts_user_add"), {**data, "password2": PASSWORD})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "lookalike",
    ["\uff41lice", "ALICE", "\U0001d41alice", " alice", "\u24d0lice"],
    ids=["full-width a", "capitals", "bold a", "leading space", "circled a"],
)
def test_a_lookalike_of_a_taken_name_is_taken_on_every_way_in(client, make_user, lookalike):
    make_user("customer", username="alice")
    admin = make_user("admin", username="boss")

    api = api_register(client, lookalike)
    assert api.status_code == 409, api.content
    assert api.json()["code"] == "username_taken"

    page = page_register(client, lookalike)
    assert page.status_code == 200
    assert "A user with that username already exists." in page.content.decode()

    client.force_login(admin)
    added = admin_add(client, lookalike)
    assert added.status_code == 200
    assert "A user with that username already exists." in added.content.decode()
    assert User.objects.filter(username_key="alice").count() == 1
    assert User.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["alic\u0435", "\u0430dmin", "424242", "\u0412\u041e\u0412", "al\u0131ce"])
def test_confusable_and_digit_only_names_are_refused_on_every_way_in(client, make_user, name):
    admin = make_user("admin", username="boss")

    api = api_register(client, name)
    assert api.status_code == 400, api.content
    assert api.json()["username"][0]

    page = page_register(client, name)
    assert page.status_code == 200
    assert 'id="id_username"' in page.content.decode() and "errorlist" in page.content.decode()

    client.force_login(admin)
    assert admin_add(client, name).status_code == 200  # the form again, with the error
    assert User.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("way", ["api", "page"])
def test_a_name_is_stored_normalised_the_same_way_on_every_way_in(client, way):
    full_width = "\uff3a\uff4f\uff45"  # "Zoe" in full-width letters
    response = api_register(client, full_width) if way == "api" else page_register(client, full_width)
    assert response.status_code in (201, 302), response.content
    user = User.objects.get()
    assert (user.username, user.username_key) == ("Zoe", "zoe")


@pytest.mark.django_db
def test_the_admin_may_recase_a_name_but_not_take_anothers_or_a_lookalike(client, make_user):
    make_user("customer", username="alice")
    bob = make_user("customer", username="bob")
    client.force_login(make_user("admin", username="boss"))
    url = reverse("admin:accounts_user_change", args=[bob.pk])
    form = {"role": "customer", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    for taken in ("ALICE", "\uff41lice", "b\u03bfb"):
        refused = client.post(url, {**form, "username": taken})
        assert refused.status_code == 200, taken
        assert "errorlist" in refused.content.decode()
    assert client.post(url, {**form, "username": "Bob"}).status_code == 302
    bob.refresh_from_db()
    assert (bob.username, bob.username_key) == ("Bob", "bob")


@pytest.mark.django_db
def test_a_name_registered_meanwhile_is_a_409_and_a_form_error_not_a_500(client, monkeypatch, make_user):
    """Two sign-ups for one name at once: the unique key decides, the loser is told.
    (The competing sign-up runs inside this one's transaction here, so both roll back.)"""
    interleave(monkeypatch, services, "username_taken", lambda: make_user("customer", username="Erin"))
    api = api_register(client, "erin")
    assert api.status_code == 409, api.content
    assert api.json()["code"] == "username_taken"

    interleave(monkeypatch, services, "username_taken", lambda: make_user("customer", username="frank"))
    page = page_register(client, "FRANK")
    assert page.status_code == 200
    assert "A user with that username already exists." in page.content.decode()


# --- the migration for existing users ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_keys_existing_users_and_keeps_the_oldest_of_lookalikes():
    executor = MigrationExecutor(connection)
    before, after = [("accounts", "0002_revokedtoken")], [("accounts", "0003_user_username_key")]
    executor.migrate(before)
    try:
        old_user = executor.loader.project_state(before).apps.get_model("accounts", "User")
        bob = old_user.objects.create(username="bob", password="x")
        impostor = old_user.objects.create(username="\uff42ob", password="x")  # a full-width b, made before the fix
        carol = old_user.objects.create(username="Carol", password="x")

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new_user = executor.loader.project_state(after).apps.get_model("accounts", "User")
        keys = dict(new_user.objects.values_list("pk", "username_key"))
        assert keys == {bob.pk: "bob", impostor.pk: f"bob#{impostor.pk}", carol.pk: "carol"}
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db
def test_the_admin_adds_a_user_under_the_same_rules(client, make_user):
    client.force_login(make_user("admin", username="boss"))
    added = admin_add(client, "\uff2e\uff45\uff57bie")  # "Newbie" with full-width N, e, w
    assert added.status_code == 302, added.content.decode()[-2000:]
    user = User.objects.get(username_key="newbie")
    assert user.username == "Newbie"
