"""A JSON parser that answers 400, not 500, to documents nested too deep to decode.

Python's decoder raises ``RecursionError`` (not ``ValueError``) past ~1,000 levels;
DRF's JSONParser only turns ``ValueError`` into a ParseError.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
