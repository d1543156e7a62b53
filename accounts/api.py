from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import RegisterInputSerializer, UserOutputSerializer
from accounts.services import register_user


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=RegisterInputSerializer,
        responses={201: UserOutputSerializer},
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
