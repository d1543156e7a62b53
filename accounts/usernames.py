"""Usernames: one normalisation for every way in, and the rules a new one must pass.

A user's name is stored as typed (NFKC-normalised, as Django's forms do) in
``User.username``, and beside it as its **key** in ``User.username_key``:
``username_key()`` below, NFKC and case-folded. The key is unique (an index on both
stores) and it is the one thing a user is found by, always with an exact match:

- logging in, on every path: ``QuickUserManager.get_by_natural_key``, which Django's
  ``ModelBackend`` calls for the login page, the admin's login and the API's token
  endpoint;
- the per-username login limit (``accounts.throttles``): it counts ``login_key()`` of
  what was submitted, the same function of the same text;
- the "already taken" check when a name is registered (page, API, admin).

So ``Bob``, ``bob``, ``BOB `` and ``bob`` typed in full-width letters (U+FF42...) are one
account and one counter.

A **new** name (sign-up page, API, admin add/rename) must also pass
``check_username_shape()``:

- Django's username characters (letters, digits and ``@ . + - _``), at most 150;
- at least one letter: ``424242`` or ``1.5`` is refused (all-digit names look like
  ids and JSON numbers);
- one script: letters from two scripts (``alice`` with a Cyrillic ``e``, U+0435; Latin
  with a Greek tau) are refused. Digits, ``@ . + - _`` and combining marks belong to no script
  (Unicode's Common and Inherited) and go with any;
- no look-alikes of ASCII letters: a character that Unicode's confusables list
  (confusables.txt, through the ``confusable_homoglyphs`` package) maps to ASCII
  letters or digits is refused in a Latin name (dotless i U+0131, Latin alpha U+0251,
  ae U+00E6); a name in another script is refused when every letter in it has such a
  look-alike (Cyrillic "BOB" in U+0412 U+041E U+0412, Greek "ABE": the whole name
  impersonates a Latin one), either as typed or case-folded. Ivan in Cyrillic, zoë or
  Chinese names pass.

ASCII-only look-alikes (``l``/``I``/``1``, ``rn``/``m``) are not refused.
"""

import hashlib
import unicodedata

from confusable_homoglyphs import categories, confusables
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError

MAX_LENGTH = 150
# NFKC is done on the name itself; case-folding may still triple its length ("ΐ").
KEY_MAX_LENGTH = 3 * MAX_LENGTH

_NO_SCRIPT = {"COMMON", "INHERITED"}
_validate_characters = UnicodeUsernameValidator()


def normalize(value: str) -> str:
    """The name as stored: stripped and NFKC, as Django's ``UsernameField`` cleans it."""
    return unicodedata.normalize("NFKC", value.strip())


def username_key(value: str) -> str:
    """The identity a username stands for: NFKC, case-folded, NFKC again, stripped,
    to a fixed point (so ``username_key(username_key(x)) == username_key(x)``, and
    stripping or normalising before makes no difference)."""
    key = str(value)
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", key).strip().casefold()).strip()
        if folded == key:
            break
        key = folded
    return key


def login_key(value) -> str | None:
    """What a login attempt's submitted username resolves to (``username_key``), or
    None when it names no one: not a string (the API refuses those with a 400 before
    any password check), or blank."""
    if not isinstance(value, str):
        return None
    return username_key(value) or None


def counter_ident(key: str) -> str:
    """A cache-safe name for a key (any length, any character) in the limit counters."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _scripts(text: str) -> set[str]:
    return {categories.alias(char) for char in text} - _NO_SCRIPT


def _ascii_lookalike(char: str) -> bool:
    """Whether confusables.txt lists ``char`` (not ASCII itself) as looking like ASCII letters or digits."""
    if char.isascii():
        return False
    return any(glyph["c"].isascii() and glyph["c"].isalnum() for glyph in confusables.confusables_data.get(char, ()))


def _impersonates_latin(text: str) -> bool:
    letters = [char for char in text if categories.alias(char) not in _NO_SCRIPT]
    return bool(letters) and all(_ascii_lookalike(char) for char in letters)


def check_username_shape(value: str) -> str:
    """The normalised name if it may be registered, else ``ValidationError`` saying why.
    Whether it is taken is ``username_taken``'s question."""
    username = normalize(value)
    if len(username) > MAX_LENGTH:
        raise ValidationError(f"At most {MAX_LENGTH} characters.", code="max_length")
    _validate_characters(username)
    if not any(char.isalpha() for char in username):
        raise ValidationError("A username needs at least one letter (not only digits or signs).", code="no_letter")
    scripts = _scripts(username)
    if len(scripts) > 1:
        names = " and ".join(sorted(script.title() for script in scripts))
        raise ValidationError(
            f"Use letters of one alphabet: this name mixes {names} letters, which can look alike.",
            code="mixed_script",
        )
    if scripts == {"LATIN"}:
        lookalikes = sorted({char for char in username if _ascii_lookalike(char)})
        if lookalikes:
            raise ValidationError(
                f"{', '.join(lookalikes)} can be mistaken for other letters: please use plain ones.",
                code="confusable",
            )
    elif _impersonates_latin(username) or _impersonates_latin(username_key(username)):
        raise ValidationError(
            "Every letter of this name looks like a Latin letter, so it could pass for another name.",
            code="confusable",
        )
    return username


def username_taken(username: str, *, exclude_pk=None) -> bool:
    """Whether an account already has this name's key (one exact lookup on the unique index)."""
    from accounts.models import User

    users = User.objects.filter(username_key=username_key(username))
    if exclude_pk is not None:
        users = users.exclude(pk=exclude_pk)
    return users.exists()


TAKEN_MESSAGE = "A user with that username already exists."


def check_new_username(value: str, *, exclude_pk=None) -> str:
    """``check_username_shape``, then not taken (``exclude_pk``: the user being renamed)."""
    username = check_username_shape(value)
    if username_taken(username, exclude_pk=exclude_pk):
        raise ValidationError(TAKEN_MESSAGE, code="unique")
    return username
