# username_key: the username's identity (NFKC, case-folded), unique and indexed, so
# logins, the per-username login limit and the taken-check look users up by one exact
# match on both stores (accounts/usernames.py). Added nullable, filled, then made unique.

from django.db import migrations, models


def fill_username_keys(apps, schema_editor):
    """Existing users get their key. Names that share one (look-alikes registered
    before this release, e.g. "bob" and a full-width "ｂob") cannot all keep it: the
    oldest account keeps the plain key; each later one gets "<key>#<id>" and is listed,
    so an admin can rename it (it logs in as "<name>#<id>" until then)."""
    from accounts.usernames import username_key

    User = apps.get_model("accounts", "User")
    seen = set()
    for user in User.objects.order_by("date_joined", "pk").only("pk", "username").iterator():
        key = username_key(user.username)
        if key in seen:
            key = f"{key}#{user.pk}"
            print(f"\n  username {user.username!r} (id {user.pk}) looks like an older account's: key {key!r}")
        seen.add(key)
        User.objects.filter(pk=user.pk).update(username_key=key)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_revokedtoken'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='username_key',
            field=models.CharField(editable=False, max_length=450, null=True),
        ),
        migrations.RunPython(fill_username_keys, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name='user',
            name='username_key',
            field=models.CharField(editable=False, max_length=450, unique=True),
        ),
    ]
