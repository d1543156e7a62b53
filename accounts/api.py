from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.serializers import RegisterInputSerializer, TokenObtainInputSerializer, UserOutputSerializer
from accounts.services import register_user
from accounts.throttles import LOGIN_THROTTLES, RegisterIPThrottle, ThrottleMessageMixin
from accounts.tokens import RevocableRefreshToken, RotatingRefreshSerializer
from quickcommerce.api import StrictCharField

THROTTLED = OpenApiResponse(OpenApiTypes.OBJECT, description="Too many attempts; see Retry-After.")
FIELD_ERRORS = OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input: {field: [messages]}.")


@extend_schema_view(
    post=extend_schema(
        tags=["auth"],
        summary="Get an access and refresh token",
        description="Limited per client address and per username (429 with Retry-After past the limit); "
        "the username counts however it is spelled (case, width), as it logs in. The login page and "
        "the admin's login share these limits.",
        request=TokenObtainInputSerializer,
        responses={
            200: TokenObtainInputSerializer,
            400: FIELD_ERRORS,
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Wrong username or password."),
            429: THROTTLED,
        },
    )
)
class TokenApi(ThrottleMessageMixin, TokenObtainPairView):
    serializer_class = TokenObtainInputSerializer
    throttle_classes = LOGIN_THROTTLES


@extend_schema_view(
    post=extend_schema(
        tags=["auth"],
        summary="Refresh the access token",
        description="Answers a new access token and a new refresh token; the refresh token sent is "
        "revoked (use the new one). Sending a revoked refresh token again revokes every refresh token "
        "descended from the same log-in (log in again).",
        request=RotatingRefreshSerializer,
        responses={
            200: RotatingRefreshSerializer,
            400: FIELD_ERRORS,
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Not a valid (or a revoked) refresh token."),
        },
    )
)
class TokenRefreshApi(TokenRefreshView):
    serializer_class = RotatingRefreshSerializer


class LogoutInputSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=2000)


class LogoutApi(APIView):
    """Blacklist a refresh token: it can no longer be refreshed. (Access tokens already
    issued stay valid until they expire: JWT_ACCESS_MINUTES.)"""

    permission_classes = [AllowAny]
    authentication_classes = []  # an expired access token must not stop a logout

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'  # so a bad refresh token is a 401 (DRF makes it 403 without one)

    @extend_schema(
        tags=["auth"],
        summary="Log out: revoke a refresh token",
        request=LogoutInputSerializer,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="Revoked."),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="No refresh token sent."),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Not a valid (or already revoked) refresh token."),
        },
    )
    def post(self, request):
        serializer = LogoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            RevocableRefreshToken(serializer.validated_data["refresh"]).log_out()
        except TokenError as exc:
            raise InvalidToken(str(exc)) from None
        return Response({"detail": "Logged out."})


class MeApi(APIView):
    """Who the token (or session) belongs to: a client learns its role after signing in."""

    @extend_schema(
        tags=["auth"],
        summary="The signed-in user",
        responses={200: UserOutputSerializer, 401: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)


class RegisterApi(ThrottleMessageMixin, APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RegisterIPThrottle]

    @extend_schema(
        request=RegisterInputSerializer,
        responses={
            201: UserOutputSerializer,
            400: FIELD_ERRORS,
            409: OpenApiResponse(OpenApiTypes.OBJECT, description="The username is taken ({detail, code})."),
            429: THROTTLED,
        },
        examples=[
            OpenApiExample(
                "A customer",
                value={"username": "asha", "password": "a-long-passphrase", "role": "customer"},
                request_only=True,
            )
        ],
        summary="Register a customer or delivery partner",
        tags=["auth"],
    )
    def post(self, request):
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = register_user(
            username=data["username"],
            password=data["password"],
            role=data["role"],
            email=data["email"],
            phone=data["phone"],
            first_name=data["name"],
            validate=False,  # the serializer already ran the password validators
        )
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)
