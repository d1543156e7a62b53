"""Named errors of the accounts domain (HTTP status and message travel with them)."""

from accounts.usernames import TAKEN_MESSAGE
from quickcommerce.errors import Conflict


class UsernameTaken(Conflict):
    """Another account has this name, however it is spelled (accounts.usernames)."""

    code = "username_taken"
    default_message = TAKEN_MESSAGE
