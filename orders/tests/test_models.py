"""The order model's rules that live next to the data: the transition table,
the partner's next step, the coarse area, refs and delivery codes."""

import itertools
import re

import pytest

from accounts.models import User
from orders import models
from orders.factories import make_order
from orders.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    MAX_CODE_ATTEMPTS,
    REF_ALPHABET,
    REF_LENGTH,
    REF_PATTERN,
    SYSTEM,
    TRANSITIONS,
    Order,
    area_of,
    can_transition,
    new_delivery_code,
    new_ref,
    next_partner_step,
)

S = Order.Status
STATUSES = list(S)
ROLES = [*User.Role, SYSTEM]

# The lifecycle from docs/architecture.md, written out by hand so that an accidental edit
# of TRANSITIONS (a new edge, a lost role) fails here instead of shipping.
ALLOWED = {
    (S.PLACED, S.ACCEPTED, "partner"),
    (S.PLACED, S.CANCELLED, "customer"),
    (S.PLACED, S.CANCELLED, "admin"),
    (S.ACCEPTED, S.PICKED_UP, "partner"),
    (S.ACCEPTED, S.PLACED, "admin"),  # the admin's "release"
    (S.ACCEPTED, S.PLACED, SYSTEM),  # an accept withdrawn by the capacity rule
    (S.ACCEPTED, S.ACCEPTED, "admin"),  # reassign, unlock the code: the status stays
    (S.ACCEPTED, S.CANCELLED, "admin"),
    (S.PICKED_UP, S.OUT_FOR_DELIVERY, "partner"),
    (S.PICKED_UP, S.PICKED_UP, "admin"),  # unlock the code
    (S.PICKED_UP, S.CANCELLED, "admin"),
    (S.OUT_FOR_DELIVERY, S.DELIVERED, "partner"),
    (S.OUT_FOR_DELIVERY, S.OUT_FOR_DELIVERY, "admin"),  # unlock the code
    (S.OUT_FOR_DELIVERY, S.CANCELLED, "admin"),
}


def test_transition_table_is_exactly_the_documented_lifecycle():
    table = {
        (from_status, to_status, role)
        for from_status, targets in TRANSITIONS.items()
        for to_status, roles in targets.items()
        for role in roles
    }
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(STATUSES), "every status has a row, final ones an empty one"


def test_transition_table_only_names_real_statuses_and_roles():
    for targets in TRANSITIONS.values():
        for to_status, roles in targets.items():
            assert to_status in S.values
            assert roles <= {*User.Role.values, SYSTEM}


@pytest.mark.parametrize(("from_status", "to_status", "role"), list(itertools.product(STATUSES, STATUSES, ROLES)))
def test_can_transition_for_every_status_pair_and_role(from_status, to_status, role):
    assert can_transition(from_status, to_status, role) is ((from_status, to_status, role) in ALLOWED)
    # Plain strings (what the API and forms hand over) behave the same as the enums.
    assert can_transition(str(from_status), str(to_status), str(role)) is ((from_status, to_status, role) in ALLOWED)


@pytest.mark.parametrize("role", ["", "anonymous", "superuser", None])
def test_unknown_roles_may_do_nothing(role):
    for from_status, to_status in itertools.product(STATUSES, STATUSES):
        assert not can_transition(from_status, to_status, role)


def test_unknown_statuses_allow_nothing():
    assert not can_transition("bogus", S.CANCELLED, "admin")
    assert not can_transition(S.PLACED, "bogus", "admin")


def test_final_statuses_have_no_way_out_and_active_ones_are_the_partners():
    assert {S.DELIVERED, S.CANCELLED} == FINAL_STATUSES
    assert {S.ACCEPTED, S.PICKED_UP, S.OUT_FOR_DELIVERY} == ACTIVE_STATUSES
    for status in FINAL_STATUSES:
        assert TRANSITIONS[status] == {}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.PLACED, None),  # accepting is not "advancing": it goes through accept_order
        (S.ACCEPTED, S.PICKED_UP),
        (S.PICKED_UP, S.OUT_FOR_DELIVERY),
        (S.OUT_FOR_DELIVERY, S.DELIVERED),
        (S.DELIVERED, None),
        (S.CANCELLED, None),
        ("bogus", None),
    ],
)
def test_next_partner_step(status, expected):
    assert next_partner_step(status) == expected


def test_next_partner_step_is_always_a_partner_transition():
    for status in STATUSES:
        step = next_partner_step(status)
        if step is not None:
            assert can_transition(status, step, "partner")


@pytest.mark.parametrize(
    ("address", "area"),
    [
        ("12 Baker Street, Flat 3, Marylebone", "Marylebone"),
        ("12 Baker Street,Marylebone", "Marylebone"),
        ("12 Baker Street\nFlat 3\nMarylebone", "Marylebone"),
        ("12 Baker Street,  Marylebone  ,  ", "Marylebone"),  # empty trailing parts are skipped
        ("12 Baker Street", "Nearby"),  # one part is the street itself: never shown
        ("  ", "Nearby"),
        ("", "Nearby"),
        ("Flat 3, 12 Baker Street", "Nearby"),  # the last part is the street: never shown
        ("Flat 3, 12 Baker Street, Marylebone, NW1 6XE", "Marylebone"),  # postcodes are skipped
        ("Marylebone, 12 Baker Street", "Nearby"),  # the first part is never an area
        # A recipient is a person, not a place: never shown to the board.
        ("221B Baker Street\nc/o Sherlock Holmes", "Nearby"),
        ("221B Baker Street, Marylebone\nc/o Sherlock Holmes", "Marylebone"),
        ("221B Baker Street\r\nMarylebone\r\nC/O Sherlock Holmes", "Marylebone"),
        ("221B Baker Street, Marylebone, care of Mrs Hudson", "Marylebone"),
        ("221B Baker Street, Marylebone, Attn: Dr Watson", "Marylebone"),
        ("221B Baker Street, Marylebone, c.o. Mycroft", "Marylebone"),
        ("221B Baker Street, Marylebone, For Irene Adler", "Marylebone"),
        ("221B Baker Street, Marylebone, holmes@example.com", "Marylebone"),
    ],
)
def test_area_of_is_the_last_part_without_digits_and_never_the_street(address, area):
    assert area_of(address) == area
    assert "Baker" not in area_of(address)


def test_area_of_is_capped_to_the_field_length():
    area = area_of("1 Long Road, " + "X" * 200)
    assert area == "X" * 60
    assert len(area) <= Order._meta.get_field("area").max_length


def test_new_ref_is_short_unambiguous_and_matches_the_url_pattern():
    refs = {new_ref() for _ in range(500)}
    assert len(refs) == 500, "refs are random, not sequential"
    for ref in refs:
        assert len(ref) == REF_LENGTH
        assert re.fullmatch(REF_PATTERN, ref)
        assert not set(ref) & set("01OIL"), "no look-alike characters"
        assert set(ref) <= set(REF_ALPHABET)


@pytest.mark.django_db
def test_orders_get_a_ref_and_their_url_uses_it_not_the_pk():
    first, second = make_order(), make_order()
    assert re.fullmatch(REF_PATTERN, first.ref)
    assert first.ref != second.ref
    assert first.ref in first.get_absolute_url()
    assert f"/{first.pk}/" not in first.get_absolute_url()


def test_delivery_codes_are_four_digits():
    for _ in range(500):
        assert re.fullmatch(r"\d{4}", new_delivery_code())


def test_delivery_codes_keep_leading_zeros(monkeypatch):
    monkeypatch.setattr(models.secrets, "randbelow", lambda _n: 7)
    assert new_delivery_code() == "0007"


def test_is_open_and_code_locked():
    for status in STATUSES:
        assert Order(status=status).is_open is (status not in {S.DELIVERED, S.CANCELLED})
    assert not Order(code_attempts=MAX_CODE_ATTEMPTS - 1).code_locked
    assert Order(code_attempts=MAX_CODE_ATTEMPTS).code_locked
    assert MAX_CODE_ATTEMPTS == 5
