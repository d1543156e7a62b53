"""When a user's open connections lose their right to exist.

``access_revoked`` is sent (after commit) with ``user_id`` and ``session_key`` when:

- the user logs out of a browser session (``session_key``: only that session's sockets);
- a refresh token of theirs is revoked: an API logout, or a reused token's family
  (``session_key=None``: every socket of the user);
- an admin deactivates the user or changes their role (``session_key=None``).

``accounts`` sits at the bottom of the layers and knows nothing of websockets: the
live machinery subscribes (``dispatch.apps.DispatchConfig.ready``) and closes the
sockets on every instance; a client that reconnects is authenticated afresh.
"""

from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal

access_revoked = Signal()

RIGHTS = ("role", "is_active")


def revoke_after_commit(user_id, *, session_key=None) -> None:
    transaction.on_commit(lambda: access_revoked.send(sender=None, user_id=str(user_id), session_key=session_key))


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        revoke_after_commit(user.pk, session_key=getattr(getattr(request, "session", None), "session_key", None))


def _remember_rights(sender, instance, update_fields=None, **kwargs):
    if instance.pk is None or (update_fields is not None and not set(update_fields) & set(RIGHTS)):
        instance._rights_before = None
        return
    instance._rights_before = sender.objects.filter(pk=instance.pk).values(*RIGHTS).first()


def _saved(sender, instance, created, **kwargs):
    before = getattr(instance, "_rights_before", None)
    if created or not before:
        return
    if before["role"] != instance.role or (before["is_active"] and not instance.is_active):
        revoke_after_commit(instance.pk)


def connect(user_model) -> None:
    user_logged_out.connect(_logged_out, dispatch_uid="accounts.access_revoked.logout")
    pre_save.connect(_remember_rights, sender=user_model, dispatch_uid="accounts.access_revoked.pre_save")
    post_save.connect(_saved, sender=user_model, dispatch_uid="accounts.access_revoked.post_save")
