"""dispatch.services: availability, the race to accept, delivering with the code,
and the admin's actions; plus the board selectors and the live-event calls.

Orders come from the real services (orders.factories.make_order / order_in_status).
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.factories import AdminFactory, CustomerFactory, PartnerFactory
from accounts.models import PartnerProfile, User
from dispatch import publish as publishing
from dispatch import services as dispatch_services
from dispatch.errors import (
    DeliveryCodeLocked,
    OrderAlreadyTaken,
    PartnerAtCapacity,
    PartnerOffline,
    WrongDeliveryCode,
)
from dispatch.factories import order_in_status
from dispatch.services import (
    accept_order,
    advance_order,
    reassign_order,
    release_order,
    reset_delivery_code,
    set_availability,
)
from orders import signals
from orders.errors import InvalidOrder, InvalidTransition, NotAllowed, OrderChanged, OrderNotFound
from orders.factories import ProductFactory, make_order
from orders.models import MAX_CODE_ATTEMPTS, Order, Product
from orders.selectors import active_orders_of, available_orders
from orders.services import cancel_order, transition_order
from quickcommerce.testing import interleave

pytestmark = pytest.mark.django_db

S = Order.Status


# --- helpers -------------------------------------------------------------------------


@pytest.fixture
def partner_updates(monkeypatch):
    calls = []
    monkeypatch.setattr(publishing, "publish_partner", lambda partner: calls.append(partner.pk))
    return calls


def fresh(order):
    return Order.objects.get(pk=order.pk)


def snapshot(order):
    """Everything a refused action must leave alone."""
    order = fresh(order)
    return (
        order.status,
        order.version,
        order.partner_id,
        order.delivery_code,
        order.code_attempts,
        order.accepted_at,
        list(order.events.values_list("status", "version", "actor_id", "note")),
    )


def online(partner):
    set_availability(partner=partner, online=True)
    return partner


def wrong_code_for(order):
    return f"{(int(order.delivery_code) + 1) % 10_000:04d}"


def out_for_delivery(partner, **kwargs):
    return order_in_status(S.OUT_FOR_DELIVERY, partner=online(partner), **kwargs)


# --- set_availability ---------------------------------------------------------------------


def test_partners_start_offline_and_toggle_availability(partner, partner_updates, django_capture_on_commit_callbacks):
    assert PartnerProfile.objects.get(user=partner).online is False

    with django_capture_on_commit_callbacks(execute=True):
        profile = set_availability(partner=partner, online=True)
        assert partner_updates == [], "admins hear of it after commit"
    assert profile.online is True
    assert PartnerProfile.objects.get(user=partner).online is True
    assert partner_updates == [partner.pk]

    with django_capture_on_commit_callbacks(execute=True):
        set_availability(partner=partner, online=False)
    assert PartnerProfile.objects.get(user=partner).online is False
    assert partner_updates == [partner.pk, partner.pk]


def test_setting_the_same_availability_again_changes_and_publishes_nothing(
    partner, partner_updates, django_capture_on_commit_callbacks
):
    online(partner)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        profile = set_availability(partner=partner, online=True)
        set_availability(partner=partner, online=True)
    assert profile.online is True
    assert PartnerProfile.objects.filter(user=partner).count() == 1
    assert callbacks == []
    assert partner_updates == []


def test_a_partner_without_a_profile_gets_one(db):
    rider = User.objects.create_user(username="legacy-rider", password="x", role=User.Role.PARTNER)
    assert not PartnerProfile.objects.filter(user=rider).exists()
    set_availability(partner=rider, online=True)
    assert PartnerProfile.objects.get(user=rider).online is True


@pytest.mark.parametrize("who", ["customer", "admin", "anonymous"])
def test_only_partners_have_an_availability(who):
    user = {"customer": CustomerFactory, "admin": AdminFactory, "anonymous": AnonymousUser}[who]()
    with pytest.raises(NotAllowed) as error:
        set_availability(partner=user, online=True)
    assert error.value.status_code == 403
    assert not PartnerProfile.objects.exists()


# --- accept_order ---------------------------------------------------------------------------


def test_the_winner_gets_the_order_a_code_and_the_timeline_entry(
    partner, published, django_capture_on_commit_callbacks
):
    order = make_order()
    online(partner)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        accepted = accept_order(partner=partner, order_ref=order.ref)
        assert published == []

    stored = fresh(order)
    assert accepted.pk == stored.pk
    assert (stored.status, stored.partner, stored.version, stored.code_attempts) == (S.ACCEPTED, partner, 2, 0)
    assert len(stored.delivery_code) == 4 and stored.delivery_code.isdigit()
    assert stored.accepted_at is not None and stored.accepted_at >= before
    assert list(stored.events.values_list("status", "version", "actor_id")) == [
        (S.PLACED, 1, order.customer_id),
        (S.ACCEPTED, 2, partner.pk),
    ]
    assert published == [(signals.ORDER_ACCEPTED, order.ref, 2, S.ACCEPTED)]
    assert list(active_orders_of(partner)) == [stored]
    assert order.ref not in {o.ref for o in available_orders()}


def test_an_offline_partner_cannot_accept(partner):
    order = make_order()
    before = snapshot(order)
    with pytest.raises(PartnerOffline) as error:
        accept_order(partner=partner, order_ref=order.ref)
    assert error.value.status_code == 409
    assert "online" in str(error.value)
    assert snapshot(order) == before


@pytest.mark.parametrize("who", ["customer", "admin", "anonymous"])
def test_only_partners_accept(who):
    order = make_order()
    before = snapshot(order)
    user = {"customer": lambda: order.customer, "admin": AdminFactory, "anonymous": AnonymousUser}[who]()
    with pytest.raises(NotAllowed):
        accept_order(partner=user, order_ref=order.ref)
    assert snapshot(order) == before


def test_a_partner_at_capacity_is_refused(partner):
    # given the default of one active order per partner
    online(partner)
    first, second = make_order(), make_order()
    accept_order(partner=partner, order_ref=first.ref)
    before = snapshot(second)

    with pytest.raises(PartnerAtCapacity) as error:
        accept_order(partner=partner, order_ref=second.ref)

    assert error.value.status_code == 409
    assert str(error.value) == "Finish your current delivery before accepting another."
    assert snapshot(second) == before


def test_capacity_comes_from_settings(partner, settings):
    settings.PARTNER_MAX_ACTIVE_ORDERS = 2
    online(partner)
    first, second, third = make_order(), make_order(), make_order()
    accept_order(partner=partner, order_ref=first.ref)
    accept_order(partner=partner, order_ref=second.ref)

    with pytest.raises(PartnerAtCapacity, match="You already have 2 active orders"):
        accept_order(partner=partner, order_ref=third.ref)
    assert fresh(third).status == S.PLACED
    assert active_orders_of(partner).count() == 2


def test_finished_orders_free_the_capacity(partner, admin_user):
    delivered = order_in_status(S.DELIVERED, partner=online(partner))
    cancelled = order_in_status(S.ACCEPTED, partner=partner)
    cancel_order(actor=admin_user, order_ref=cancelled.ref)
    assert active_orders_of(partner).count() == 0
    assert {delivered.status, fresh(cancelled).status} == {S.DELIVERED, S.CANCELLED}

    next_one = make_order()
    accept_order(partner=partner, order_ref=next_one.ref)
    assert fresh(next_one).partner == partner


def test_the_second_partner_finds_it_taken(partner, other_partner):
    order = make_order()
    accept_order(partner=online(partner), order_ref=order.ref)
    before = snapshot(order)
    with pytest.raises(OrderAlreadyTaken) as error:
        accept_order(partner=online(other_partner), order_ref=order.ref)
    assert error.value.status_code == 409
    assert snapshot(order) == before
    assert fresh(order).partner == partner


def test_a_stale_read_loses_the_race_in_transition_order(partner, other_partner):
    # given both partners loaded the same placed order
    order = make_order()
    seen_by_first, seen_by_second = fresh(order), fresh(order)
    accept_kwargs = {"to_status": S.ACCEPTED, "match": {"partner__isnull": True}}

    # when the first one wins
    transition_order(order=seen_by_first, actor=partner, changes={"partner": partner}, **accept_kwargs)
    won = snapshot(order)

    # then the second one's compare-and-set fails and changes nothing
    with pytest.raises(OrderChanged):
        transition_order(order=seen_by_second, actor=other_partner, changes={"partner": other_partner}, **accept_kwargs)
    assert snapshot(order) == won


def test_racing_accepts_exactly_one_wins_the_other_gets_already_taken(
    partner, other_partner, monkeypatch, published, django_capture_on_commit_callbacks
):
    # given the second partner's accept has read the order (still placed, passed every
    # check) and the first partner's accept completes before its compare-and-set
    order = make_order()
    online(partner)
    online(other_partner)
    interleave(
        monkeypatch,
        dispatch_services,
        "transition_order",
        lambda: accept_order(partner=partner, order_ref=order.ref),
    )

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(OrderAlreadyTaken):
        accept_order(partner=other_partner, order_ref=order.ref)

    stored = fresh(order)
    assert (stored.status, stored.partner, stored.version) == (S.ACCEPTED, partner, 2)
    assert list(stored.events.values_list("status", "actor_id")) == [
        (S.PLACED, order.customer_id),
        (S.ACCEPTED, partner.pk),
    ]
    assert published == [(signals.ORDER_ACCEPTED, order.ref, 2, S.ACCEPTED)]
    assert active_orders_of(other_partner).count() == 0


def test_capacity_holds_when_one_partner_accepts_two_orders_at_once(partner, monkeypatch):
    # given the partner (limit 1) taps accept on two orders at the same moment: the
    # accept of `second` runs to its end while the accept of `first` is between its
    # capacity check and its compare-and-set
    first, second = make_order(), make_order()
    online(partner)
    outcome = {}

    def tap(order, name):
        try:
            accept_order(partner=partner, order_ref=order.ref)
            outcome[name] = "won"
        except PartnerAtCapacity:
            outcome[name] = "refused"

    interleave(monkeypatch, dispatch_services, "transition_order", lambda: tap(second, "second"))
    tap(first, "first")

    # then exactly one of the two taps got an order
    assert sorted(outcome.values()) == ["refused", "won"], outcome
    assert active_orders_of(partner).count() == 1


def test_a_withdrawn_accept_is_the_systems_change_through_the_table(
    partner, monkeypatch, published, django_capture_on_commit_callbacks
):
    # given the same two taps at once, one of which must be handed back
    first, second = make_order(), make_order()
    online(partner)
    refused = []

    def tap(order):
        try:
            accept_order(partner=partner, order_ref=order.ref)
        except PartnerAtCapacity:
            refused.append(order)

    interleave(monkeypatch, dispatch_services, "transition_order", lambda: tap(second))
    with django_capture_on_commit_callbacks(execute=True):
        tap(first)

    # then the order handed back is on the board again, and its timeline says the system
    # did it (the transition table lets only admins and the system put an order back)
    [withdrawn] = refused
    stored = fresh(withdrawn)
    assert (stored.status, stored.partner_id, stored.accepted_at, stored.delivery_code) == (S.PLACED, None, None, "")
    event = stored.events.order_by("version").last()
    assert (event.status, event.actor, event.note) == (
        S.PLACED,
        None,
        "Accept withdrawn: the partner was already at capacity.",
    )
    # and the partner who lost it is told (their board drops it)
    assert published.kwargs[-1] == {"previous_partner_id": partner.pk}


def test_every_admin_operation_obeys_the_transition_table(partner, other_partner, admin_user, monkeypatch):
    from orders.models import TRANSITIONS

    # given a table in which admins may no longer change accepted or on-the-way orders in place
    monkeypatch.setitem(TRANSITIONS, S.ACCEPTED, {**TRANSITIONS[S.ACCEPTED], S.ACCEPTED: set()})
    monkeypatch.setitem(TRANSITIONS, S.OUT_FOR_DELIVERY, {**TRANSITIONS[S.OUT_FOR_DELIVERY], S.OUT_FOR_DELIVERY: set()})
    accepted = order_in_status(S.ACCEPTED, partner=online(partner))
    locked = order_in_status(S.OUT_FOR_DELIVERY)
    Order.objects.filter(pk=locked.pk).update(code_attempts=MAX_CODE_ATTEMPTS)
    before = snapshot(accepted), snapshot(locked)

    # then reassigning and unlocking are refused, because they go through the table too
    with pytest.raises(InvalidTransition):
        reassign_order(admin=admin_user, order_ref=accepted.ref, partner=other_partner)
    with pytest.raises(InvalidTransition):
        reset_delivery_code(admin=admin_user, order_ref=locked.ref)
    assert (snapshot(accepted), snapshot(locked)) == before


def test_a_write_conflict_from_mongodb_is_a_lost_race_not_a_server_error(partner, monkeypatch):
    # On MongoDB a compare-and-set inside a transaction loses to another open transaction
    # with WriteConflict (code 112) instead of matching no document. No server here: the
    # error is the one django-mongodb-backend raises (a DatabaseError caused by pymongo's
    # OperationFailure), made by hand at the moment the accept writes.
    from django.db import DatabaseError
    from django.db.models.query import QuerySet
    from pymongo.errors import OperationFailure

    order = make_order()
    before = snapshot(order)
    real_update = QuerySet.update

    def conflicting(queryset, **changes):
        if queryset.model is Order and changes.get("status") == S.ACCEPTED:
            try:
                raise OperationFailure("WriteConflict error", code=112)
            except OperationFailure as error:
                raise DatabaseError("WriteConflict error") from error
        return real_update(queryset, **changes)

    monkeypatch.setattr(QuerySet, "update", conflicting)
    with pytest.raises(OrderAlreadyTaken):
        accept_order(partner=online(partner), order_ref=order.ref)
    assert snapshot(order) == before


def test_a_cancelled_order_cannot_be_accepted(partner):
    order = order_in_status(S.CANCELLED)
    before = snapshot(order)
    with pytest.raises(InvalidTransition, match="cancelled"):
        accept_order(partner=online(partner), order_ref=order.ref)
    assert snapshot(order) == before


@pytest.mark.parametrize("status", [S.PICKED_UP, S.DELIVERED])
def test_an_order_further_along_is_already_taken(partner, status):
    order = order_in_status(status)
    with pytest.raises(OrderAlreadyTaken):
        accept_order(partner=online(partner), order_ref=order.ref)


@pytest.mark.parametrize("ref", ["ZZZZZZZZ", "", "nope", "x" * 500])
def test_accepting_an_unknown_order(partner, ref):
    with pytest.raises(OrderNotFound) as error:
        accept_order(partner=online(partner), order_ref=ref)
    assert error.value.status_code == 404


# --- advance_order ----------------------------------------------------------------------------


def test_the_partner_advances_step_by_step_and_delivers_with_the_code(
    partner, published, django_capture_on_commit_callbacks
):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    steps = [(S.PICKED_UP, "picked_up_at"), (S.OUT_FOR_DELIVERY, "out_for_delivery_at"), (S.DELIVERED, "delivered_at")]
    for version, (step, stamp) in enumerate(steps, start=3):
        code = fresh(order).delivery_code if step == S.DELIVERED else None
        already = len(published)
        with django_capture_on_commit_callbacks(execute=True):
            result = advance_order(partner=partner, order_ref=order.ref, to_status=step, code=code)
            assert len(published) == already, "published only after commit"
        stored = fresh(order)
        assert (result.status, stored.status, stored.version) == (step, step, version)
        assert getattr(stored, stamp) is not None
        assert stored.events.order_by("version").last().actor == partner
        assert published[-1] == (signals.ORDER_STATUS_UPDATE, order.ref, version, step)
    assert len(published) == 3
    assert active_orders_of(partner).count() == 0
    assert fresh(order).delivered_at >= fresh(order).out_for_delivery_at >= fresh(order).picked_up_at


def test_the_code_may_come_with_surrounding_spaces(partner):
    order = out_for_delivery(partner)
    advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=f" {order.delivery_code} ")
    assert fresh(order).status == S.DELIVERED


@pytest.mark.parametrize(
    ("status", "to_status"),
    [
        (S.ACCEPTED, S.OUT_FOR_DELIVERY),  # skipping a step
        (S.ACCEPTED, S.DELIVERED),
        (S.ACCEPTED, S.ACCEPTED),  # repeating
        (S.ACCEPTED, S.PLACED),  # backwards (only an admin's release does that)
        (S.ACCEPTED, S.CANCELLED),  # partners never cancel
        (S.PICKED_UP, S.PICKED_UP),
        (S.PICKED_UP, S.ACCEPTED),
        (S.PICKED_UP, S.DELIVERED),
        (S.OUT_FOR_DELIVERY, S.PICKED_UP),
        (S.OUT_FOR_DELIVERY, S.OUT_FOR_DELIVERY),
        (S.DELIVERED, S.DELIVERED),
        (S.DELIVERED, S.OUT_FOR_DELIVERY),
    ],
)
def test_only_the_next_step_is_allowed(partner, status, to_status):
    order = order_in_status(status, partner=online(partner))
    before = snapshot(order)
    with pytest.raises(InvalidTransition) as error:
        advance_order(partner=partner, order_ref=order.ref, to_status=to_status, code=order.delivery_code)
    assert error.value.status_code == 409
    assert order.ref in str(error.value)
    assert snapshot(order) == before


@pytest.mark.parametrize("to_status", ["bogus", "", "DELIVERED", "picked up"])
def test_an_unknown_status_is_invalid_input(partner, to_status):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    before = snapshot(order)
    with pytest.raises(InvalidOrder) as error:
        advance_order(partner=partner, order_ref=order.ref, to_status=to_status)
    assert error.value.status_code == 400
    assert snapshot(order) == before


def test_after_an_admin_cancel_there_is_nothing_left_to_do(partner, admin_user):
    order = order_in_status(S.PICKED_UP, partner=online(partner))
    cancel_order(actor=admin_user, order_ref=order.ref)
    with pytest.raises(InvalidTransition, match="nothing left to do"):
        advance_order(partner=partner, order_ref=order.ref, to_status=S.OUT_FOR_DELIVERY)


def test_another_partner_cannot_advance_or_even_see_the_order(partner, other_partner):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    before = snapshot(order)
    with pytest.raises(OrderNotFound):
        advance_order(partner=online(other_partner), order_ref=order.ref, to_status=S.PICKED_UP)
    assert snapshot(order) == before


@pytest.mark.parametrize("who", ["customer", "admin"])
def test_only_partners_advance(partner, who):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    user = order.customer if who == "customer" else AdminFactory()
    with pytest.raises(NotAllowed):
        advance_order(partner=user, order_ref=order.ref, to_status=S.PICKED_UP)
    assert fresh(order).status == S.ACCEPTED


def test_an_advance_that_loses_a_race_with_the_admin_changes_nothing(partner, admin_user, monkeypatch):
    # given the partner's "picked up" read the order, and an admin releases it meanwhile
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    interleave(
        monkeypatch,
        dispatch_services,
        "transition_order",
        lambda: release_order(admin=admin_user, order_ref=order.ref),
    )
    with pytest.raises(InvalidTransition, match="changed meanwhile"):
        advance_order(partner=partner, order_ref=order.ref, to_status=S.PICKED_UP)
    stored = fresh(order)
    assert (stored.status, stored.partner) == (S.PLACED, None)


# --- the delivery code ------------------------------------------------------------------------


def test_delivering_without_the_code_is_refused_and_does_not_use_a_try(partner):
    order = out_for_delivery(partner)
    with pytest.raises(WrongDeliveryCode) as error:
        advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED)
    assert error.value.status_code == 400
    assert "delivery code" in str(error.value)
    stored = fresh(order)
    assert (stored.status, stored.version, stored.code_attempts) == (S.OUT_FOR_DELIVERY, order.version, 0)


@pytest.mark.parametrize("code", [None, "", "   "])
def test_a_blank_code_asks_for_the_code_without_using_a_try(partner, code):
    order = out_for_delivery(partner)
    with pytest.raises(WrongDeliveryCode) as error:
        advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=code)
    assert fresh(order).code_attempts == 0
    assert str(error.value) == "Please enter the customer's 4-digit delivery code."


def test_wrong_codes_count_down_then_lock_even_the_right_code_out(partner):
    order = out_for_delivery(partner)
    wrong = wrong_code_for(order)

    # the first four wrong codes say how many tries are left
    for attempt, left in enumerate(["4 tries left", "3 tries left", "2 tries left", "1 try left"], start=1):
        with pytest.raises(WrongDeliveryCode) as error:
            advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=wrong)
        assert str(error.value) == f"Wrong delivery code. {left}."
        assert fresh(order).code_attempts == attempt

    # the fifth locks the code
    with pytest.raises(DeliveryCodeLocked) as error:
        advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=wrong)
    assert error.value.status_code == 409
    assert fresh(order).code_attempts == MAX_CODE_ATTEMPTS
    assert fresh(order).code_locked

    # and from then on even the right code is refused, without counting further
    with pytest.raises(DeliveryCodeLocked):
        advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=order.delivery_code)
    stored = fresh(order)
    assert (stored.status, stored.code_attempts, stored.delivered_at) == (S.OUT_FOR_DELIVERY, MAX_CODE_ATTEMPTS, None)
    assert stored.version == order.version


@pytest.mark.parametrize("code", ["\uff11\uff12\uff13\uff14", "\u00e9"])
def test_a_non_ascii_code_is_just_a_wrong_code(partner, code):
    order = out_for_delivery(partner)
    with pytest.raises(WrongDeliveryCode):
        advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=code)
    assert fresh(order).code_attempts == 1


def test_an_admin_reset_unlocks_the_code_and_the_right_code_then_delivers(
    partner, admin_user, published, django_capture_on_commit_callbacks
):
    # given a locked code
    order = out_for_delivery(partner)
    for _ in range(MAX_CODE_ATTEMPTS):
        with pytest.raises((WrongDeliveryCode, DeliveryCodeLocked)):
            advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=wrong_code_for(order))
    locked = fresh(order)
    assert locked.code_locked

    # when an admin resets it
    with django_capture_on_commit_callbacks(execute=True):
        reset = reset_delivery_code(admin=admin_user, order_ref=order.ref)
        assert published == []

    # then the tries are back, the code is the same, and the timeline says who did it
    stored = fresh(order)
    assert reset.pk == stored.pk
    assert (stored.code_attempts, stored.delivery_code, stored.status) == (0, locked.delivery_code, locked.status)
    assert stored.version == locked.version + 1
    last = stored.events.order_by("version").last()
    assert (last.status, last.version, last.actor, last.note) == (
        S.OUT_FOR_DELIVERY,
        stored.version,
        admin_user,
        "Delivery code unlocked.",
    )
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, stored.version, S.OUT_FOR_DELIVERY)]

    advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=stored.delivery_code)
    assert fresh(order).status == S.DELIVERED


def test_delivered_orders_leave_the_partners_active_list(partner):
    order = out_for_delivery(partner)
    assert list(active_orders_of(partner)) == [fresh(order)]
    advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=order.delivery_code)
    stored = fresh(order)
    assert stored.delivered_at is not None
    assert not stored.is_open
    assert list(active_orders_of(partner)) == []


# --- admin: release, reassign, cancel ---------------------------------------------------------


def test_release_puts_an_accepted_order_back_on_the_board(
    partner, other_partner, admin_user, published, django_capture_on_commit_callbacks
):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    with django_capture_on_commit_callbacks(execute=True):
        release_order(admin=admin_user, order_ref=order.ref)

    stored = fresh(order)
    assert (stored.status, stored.partner, stored.delivery_code, stored.code_attempts, stored.accepted_at) == (
        S.PLACED,
        None,
        "",
        0,
        None,
    )
    assert stored.version == order.version + 1
    last = stored.events.order_by("version").last()
    assert (last.status, last.actor, last.note) == (S.PLACED, admin_user, "Released back to the board by an admin.")
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, stored.version, S.PLACED)]
    assert published.kwargs[-1].get("previous_partner_id") == partner.pk, "the old partner's board must drop it"
    assert order.ref in {o.ref for o in available_orders()}
    assert active_orders_of(partner).count() == 0

    # and any partner can take it again, with a fresh code
    accept_order(partner=online(other_partner), order_ref=order.ref)
    again = fresh(order)
    assert again.partner == other_partner
    assert len(again.delivery_code) == 4


def test_release_records_the_admins_reason(partner, admin_user):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    release_order(admin=admin_user, order_ref=order.ref, reason="Rider's bike broke down.")
    assert fresh(order).events.order_by("version").last().note == "Rider's bike broke down."


@pytest.mark.parametrize("status", [S.PLACED, S.PICKED_UP, S.OUT_FOR_DELIVERY, S.DELIVERED, S.CANCELLED])
def test_only_accepted_orders_can_be_released(admin_user, status):
    order = order_in_status(status)
    before = snapshot(order)
    with pytest.raises(InvalidTransition):
        release_order(admin=admin_user, order_ref=order.ref)
    assert snapshot(order) == before


def test_reassign_hands_an_accepted_order_to_another_partner(
    partner, other_partner, admin_user, published, django_capture_on_commit_callbacks
):
    order = order_in_status(S.ACCEPTED, partner=online(partner))

    with django_capture_on_commit_callbacks(execute=True):
        reassign_order(admin=admin_user, order_ref=order.ref, partner=other_partner)

    stored = fresh(order)
    assert (stored.status, stored.partner, stored.version) == (S.ACCEPTED, other_partner, order.version + 1)
    assert stored.delivery_code == order.delivery_code, "the customer's code stays valid"
    last = stored.events.order_by("version").last()
    assert (last.status, last.version, last.actor, last.note) == (
        S.ACCEPTED,
        stored.version,
        admin_user,
        f"Reassigned to {other_partner}.",
    )
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, stored.version, S.ACCEPTED)]
    assert published.kwargs[-1].get("previous_partner_id") == partner.pk
    assert list(active_orders_of(other_partner)) == [stored]
    assert active_orders_of(partner).count() == 0

    # the old partner has lost it; the new one carries on
    with pytest.raises(OrderNotFound):
        advance_order(partner=partner, order_ref=order.ref, to_status=S.PICKED_UP)
    advance_order(partner=other_partner, order_ref=order.ref, to_status=S.PICKED_UP)
    assert fresh(order).status == S.PICKED_UP


@pytest.mark.parametrize("status", [S.PLACED, S.PICKED_UP, S.OUT_FOR_DELIVERY, S.DELIVERED, S.CANCELLED])
def test_only_accepted_orders_can_be_reassigned(other_partner, admin_user, status):
    order = order_in_status(status)
    before = snapshot(order)
    with pytest.raises(InvalidTransition):
        reassign_order(admin=admin_user, order_ref=order.ref, partner=other_partner)
    assert snapshot(order) == before


@pytest.mark.parametrize("target", ["customer", "admin"])
def test_reassign_only_to_a_partner(partner, admin_user, target):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    before = snapshot(order)
    user = order.customer if target == "customer" else admin_user
    with pytest.raises(InvalidOrder, match="not a delivery partner"):
        reassign_order(admin=admin_user, order_ref=order.ref, partner=user)
    assert snapshot(order) == before


def test_reassign_to_the_same_partner_is_refused(partner, admin_user):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    before = snapshot(order)
    with pytest.raises(InvalidTransition, match="already assigned"):
        reassign_order(admin=admin_user, order_ref=order.ref, partner=partner)
    assert snapshot(order) == before


def test_admin_cancel_order(partner, admin_user, published, django_capture_on_commit_callbacks):
    product = ProductFactory(stock=10)
    order = order_in_status(S.ACCEPTED, partner=online(partner), products_with_qty=[(product, 3)])

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(actor=admin_user, order_ref=order.ref)

    stored = fresh(order)
    assert stored.status == S.CANCELLED
    assert stored.cancelled_at is not None
    last = stored.events.order_by("version").last()
    assert (last.status, last.actor, last.note) == (S.CANCELLED, admin_user, "Cancelled by an admin.")
    assert Product.objects.get(pk=product.pk).stock == 10
    assert active_orders_of(partner).count() == 0
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, stored.version, S.CANCELLED)]


def test_admin_cancel_with_a_reason(admin_user):
    order = make_order()
    cancel_order(actor=admin_user, order_ref=order.ref, reason="Address outside the delivery zone.")
    assert fresh(order).events.order_by("version").last().note == "Address outside the delivery zone."


ADMIN_ACTIONS = {
    "release": lambda user, order, partner: release_order(admin=user, order_ref=order.ref),
    "reassign": lambda user, order, partner: reassign_order(admin=user, order_ref=order.ref, partner=partner),
    "reset code": lambda user, order, partner: reset_delivery_code(admin=user, order_ref=order.ref),
    "cancel": lambda user, order, partner: cancel_order(actor=user, order_ref=order.ref),
}


@pytest.mark.parametrize("action", list(ADMIN_ACTIONS))
@pytest.mark.parametrize("who", ["customer", "partner", "other partner", "anonymous"])
def test_admin_actions_are_for_admins_only(partner, other_partner, action, who):
    order = order_in_status(S.ACCEPTED, partner=online(partner))
    before = snapshot(order)
    user = {
        "customer": order.customer,  # even the order's own customer
        "partner": partner,  # even the assigned partner
        "other partner": other_partner,
        "anonymous": AnonymousUser(),
    }[who]
    # The order's own customer may cancel, but not once it is accepted: refused as too late (409).
    expected = InvalidTransition if (action, who) == ("cancel", "customer") else NotAllowed
    with pytest.raises(expected) as error:
        ADMIN_ACTIONS[action](user, order, other_partner)
    assert error.value.status_code == (409 if expected is InvalidTransition else 403)
    assert snapshot(order) == before


@pytest.mark.parametrize("action", list(ADMIN_ACTIONS))
def test_admin_actions_on_an_unknown_order(admin_user, other_partner, action):
    ghost = Order(ref="ZZZZZZZZ")
    with pytest.raises(OrderNotFound):
        ADMIN_ACTIONS[action](admin_user, ghost, other_partner)


# --- live events: once, after commit -----------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status", "event"),
    [
        ("accept", S.PLACED, signals.ORDER_ACCEPTED),
        ("advance", S.ACCEPTED, signals.ORDER_STATUS_UPDATE),
        ("customer cancel", S.PLACED, signals.ORDER_STATUS_UPDATE),
        ("admin cancel", S.PICKED_UP, signals.ORDER_STATUS_UPDATE),
        ("release", S.ACCEPTED, signals.ORDER_STATUS_UPDATE),
        ("reassign", S.ACCEPTED, signals.ORDER_STATUS_UPDATE),
        ("reset code", S.OUT_FOR_DELIVERY, signals.ORDER_STATUS_UPDATE),
    ],
)
def test_each_action_publishes_once_after_commit(
    partner, other_partner, admin_user, published, django_capture_on_commit_callbacks, action, status, event
):
    from orders.services import cancel_order

    order = order_in_status(status, partner=online(partner))
    online(other_partner)
    if action == "reset code":
        Order.objects.filter(pk=order.pk).update(code_attempts=MAX_CODE_ATTEMPTS)  # a locked code
    run = {
        "accept": lambda: accept_order(partner=other_partner, order_ref=order.ref),
        "advance": lambda: advance_order(partner=partner, order_ref=order.ref, to_status=S.PICKED_UP),
        "customer cancel": lambda: cancel_order(actor=order.customer, order_ref=order.ref),
        "admin cancel": lambda: cancel_order(actor=admin_user, order_ref=order.ref),
        "release": lambda: release_order(admin=admin_user, order_ref=order.ref),
        "reassign": lambda: reassign_order(admin=admin_user, order_ref=order.ref, partner=other_partner),
        "reset code": lambda: reset_delivery_code(admin=admin_user, order_ref=order.ref),
    }[action]

    with django_capture_on_commit_callbacks(execute=True):
        run()
        assert published == [], "nothing is published before the change is committed"

    stored = fresh(order)
    assert published == [(event, order.ref, stored.version, stored.status)]
    assert stored.version == order.version + 1


def test_refused_actions_publish_nothing(partner, other_partner, published, django_capture_on_commit_callbacks):
    order = order_in_status(S.OUT_FOR_DELIVERY, partner=online(partner))
    online(other_partner)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(OrderAlreadyTaken):
            accept_order(partner=other_partner, order_ref=order.ref)
        with pytest.raises(InvalidTransition):
            advance_order(partner=partner, order_ref=order.ref, to_status=S.PICKED_UP)
        with pytest.raises(WrongDeliveryCode):
            advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=wrong_code_for(order))
    assert published == []
    assert callbacks == []


# --- board selectors ----------------------------------------------------------------------------


def test_available_orders_are_the_unassigned_placed_ones_oldest_first(partner, admin_user):
    now = timezone.now()
    newest, oldest, middle = make_order(), make_order(), make_order()
    for order, minutes_ago in ((newest, 1), (oldest, 9), (middle, 5)):
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=minutes_ago))
    taken = make_order()
    accept_order(partner=online(partner), order_ref=taken.ref)
    cancelled = order_in_status(S.CANCELLED)
    released = order_in_status(S.ACCEPTED)
    release_order(admin=admin_user, order_ref=released.ref)
    Order.objects.filter(pk=released.pk).update(created_at=now - timedelta(minutes=3))

    refs = [order.ref for order in available_orders()]
    assert refs == [oldest.ref, middle.ref, released.ref, newest.ref]
    assert taken.ref not in refs and cancelled.ref not in refs


def test_active_orders_of_a_partner_are_only_their_open_deliveries(partner, other_partner, admin_user, settings):
    settings.PARTNER_MAX_ACTIVE_ORDERS = 5
    online(partner)
    mine = [order_in_status(status, partner=partner) for status in (S.ACCEPTED, S.PICKED_UP, S.OUT_FOR_DELIVERY)]
    order_in_status(S.DELIVERED, partner=partner)
    cancelled = order_in_status(S.ACCEPTED, partner=partner)
    cancel_order(actor=admin_user, order_ref=cancelled.ref)
    order_in_status(S.ACCEPTED, partner=online(other_partner))
    make_order()

    assert {order.ref for order in active_orders_of(partner)} == {order.ref for order in mine}
    assert active_orders_of(PartnerFactory()).count() == 0


@pytest.mark.parametrize("status", [S.PLACED, S.ACCEPTED, S.DELIVERED])
def test_reset_delivery_code_refuses_a_code_that_is_not_locked(admin_user, partner, status):
    order = order_in_status(status, partner=online(partner)) if status != S.PLACED else make_order()
    before = fresh(order)
    with pytest.raises(InvalidTransition, match="not locked"):
        reset_delivery_code(admin=admin_user, order_ref=order.ref)
    stored = fresh(order)
    assert (stored.version, stored.code_attempts) == (before.version, before.code_attempts)
    assert stored.events.count() == before.events.count()


def test_accepting_your_own_order_again_says_so(partner):
    order = make_order()
    accept_order(partner=online(partner), order_ref=order.ref)
    with pytest.raises(InvalidTransition, match="already have this order"):
        accept_order(partner=partner, order_ref=order.ref)
