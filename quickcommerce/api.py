"""API-wide plumbing: the exception handler that maps errors to JSON, strict input
fields, and the OpenAPI schema's account of paging.

The API answers JSON, always ``{"detail", "code"}`` for a refusal that is not about
one field: a domain error (``quickcommerce.errors``) with its status, and a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` with a 400 (Django would answer its HTML 400 page).
"""

import re

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from quickcommerce.errors import DomainError

TOO_LARGE = "The request body is too large."


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": TOO_LARGE, "code": "too_large"}, status=400)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and set(response.data) == {"detail"}:
        # DRF's own refusals (401 wrong password, 403, 404, 405, 429) carry their code too.
        detail = response.data["detail"]
        response.data["code"] = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    return response


# --- strict input fields -------------------------------------------------------------
# DRF's CharField takes 42 for "42" and its BooleanField takes "yes", 1 and "on"; the
# schema says string and boolean, so the API takes exactly those.


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (a number is a 400, as the schema says)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` and nothing else."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class QueryChoiceField(serializers.ChoiceField):
    """A query parameter that, when present, is one of the choices: ``?status=`` is a 400.
    (DRF reads a blank value of an optional field in a QueryDict as "not sent", which the
    schema's enum does not say.)"""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


# --- paging --------------------------------------------------------------------------------

_WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,8}")


class StrictPageNumberPagination(PageNumberPagination):
    """``?page=`` from 1 (404 past the last page, as DRF answers) and ``?page_size=`` a
    whole number from 1 to ``max_page_size``, else 400 - DRF falls back to the default
    size on anything else, silently, while the schema says integer."""

    def get_page_size(self, request):
        if self.page_size_query_param and self.page_size_query_param in request.query_params:
            raw = request.query_params[self.page_size_query_param]
            if _WHOLE_NUMBER.fullmatch(raw) and int(raw) <= (self.max_page_size or int(raw)):
                return int(raw)
            limit = f" to {self.max_page_size}" if self.max_page_size else ""
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1{limit}."]})
        return self.page_size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] in (self.page_query_param, self.page_size_query_param):
                parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param and self.max_page_size:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters


# --- the schema ------------------------------------------------------------------------


class ListSerializerBounds(OpenApiSerializerFieldExtension):
    """A nested ``many=True`` serializer's bounds in the schema: drf-spectacular leaves
    out ``allow_empty=False``, ``min_length`` and ``max_length`` (e.g. an order's
    ``items``: at least one line, at most MAX_LINES), so the schema allowed ``[]``.
    The way drf-spectacular documents for augmenting a field: its own schema, edited."""

    target_class = "rest_framework.serializers.ListSerializer"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if schema is None or direction != "request":
            return schema
        minimum = max(self.target.min_length or 0, 0 if self.target.allow_empty else 1)
        if minimum:
            schema["minItems"] = minimum
        if self.target.max_length is not None:
            schema["maxItems"] = self.target.max_length
        return schema


def document_paging(result, generator, request, public):
    """drf-spectacular postprocessing hook: a paged list (``StrictPageNumberPagination``)
    answers 404 (``{"detail": "Invalid page."}``) for a page that does not exist and
    400 for a bad ``page_size``; say so on every such operation."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            page = next(
                (p for p in operation.get("parameters", []) if p.get("in") == "query" and p.get("name") == "page"),
                None,
            )
            if page is None:
                continue
            page.setdefault("schema", {"type": "integer"})["minimum"] = 1
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "404",
                {
                    "description": "No such page (past the last one).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            )
            responses.setdefault(
                "400",
                {
                    "description": "Bad page_size: {page_size: [message]}.",
                    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": {}}}},
                },
            )
    return result
