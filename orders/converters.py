"""The ``<ref:ref>`` URL converter: an order ref, as every URL in the project spells it."""

from orders.models import REF_PATTERN


class RefConverter:
    regex = REF_PATTERN

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value
