from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts.models import User
from accounts.services import SELF_SERVICE_ROLES
from accounts.tokens import RevocableRefreshToken
from accounts.usernames import MAX_LENGTH, check_username_shape
from quickcommerce.api import StrictCharField


class RegisterInputSerializer(serializers.Serializer):
    username = StrictCharField(
        max_length=MAX_LENGTH,
        help_text="Letters (of one alphabet, at least one), digits and @/./+/-/_. "
        "Names that differ only in case or width are the same name.",
    )
    password = StrictCharField(write_only=True, max_length=128, trim_whitespace=False, style={"input_type": "password"})
    role = serializers.ChoiceField(choices=SELF_SERVICE_ROLES)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    phone = StrictCharField(required=False, allow_blank=True, max_length=32, default="")
    name = StrictCharField(required=False, allow_blank=True, max_length=150, default="")

    def validate_username(self, value):
        # The page's rules, normalised the page's way (accounts.usernames); whether the
        # name is taken is register_user's call (409).
        return check_username_shape(value)

    def validate(self, attrs):
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], candidate)
        except Exception as exc:  # django.core.exceptions.ValidationError
            raise serializers.ValidationError({"password": list(getattr(exc, "messages", [str(exc)]))}) from exc
        return attrs


class TokenObtainInputSerializer(TokenObtainPairSerializer):
    """simplejwt's log-in, with strings only (``{"username": 424242}`` is a 400, not the
    account "424242"), the login page's length limit, and a refresh token that starts
    a revocable family (accounts.tokens)."""

    token_class = RevocableRefreshToken

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = StrictCharField(write_only=True, max_length=MAX_LENGTH)
        self.fields["password"] = StrictCharField(
            write_only=True, max_length=4096, trim_whitespace=False, style={"input_type": "password"}
        )


class UserOutputSerializer(serializers.ModelSerializer):
    # As emitted: the id is a string on every store, and the email may be blank.
    id = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ("id", "username", "role", "email", "phone", "first_name")
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["id"] = str(instance.pk)
        return data
