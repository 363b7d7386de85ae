"""The one domain error. Services raise it with a message a person can act on; pages and the API render it."""


class DomainError(Exception):
    """A refused action: illegal state move, missing permission, over quota, bad input.

    `code` lets the API pick a status (409 for conflicts, 403 for permissions, 400 otherwise) and `field`
    lets a form put the message beside the field it concerns.
    """

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None, params: dict | None = None):
        super().__init__(message)
        self.message = str(message)
        self.code = code
        self.field = field
        self.params = params or {}

    def __str__(self) -> str:
        return self.message


class PermissionDenied(DomainError):
    def __init__(self, message: str, **kwargs):
        super().__init__(message, code="permission_denied", **kwargs)


class Conflict(DomainError):
    def __init__(self, message: str, **kwargs):
        super().__init__(message, code="conflict", **kwargs)
