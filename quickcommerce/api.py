"""API-wide plumbing: the exception handler that maps domain errors to responses."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from quickcommerce.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    return drf_exception_handler(exc, context)
