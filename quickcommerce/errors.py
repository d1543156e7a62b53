"""Named domain errors. Each carries its HTTP status and a user-facing message.

Services raise these; pages show ``str(error)`` as a message and the API's
exception handler (quickcommerce.api) answers with ``error.status_code``. That is
the one mapping from business rule to response, in one place.
"""


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = "That cannot be done."

    def __init__(self, message=None):
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "That conflicts with the current state."


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    default_message = "You cannot do this."
