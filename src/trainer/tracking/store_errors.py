"""Tell a store that refused a record (resending cannot help) from one that was away (retry)."""

from __future__ import annotations

# Errors that resending cannot fix: the store understood the request and refused it.
PERMANENT_ERROR_CODES = frozenset(
    {
        "INVALID_PARAMETER_VALUE",
        "RESOURCE_DOES_NOT_EXIST",
        "INVALID_STATE",
        "BAD_REQUEST",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
    }
)


def is_permanent_error(exc: Exception) -> bool:
    """Whether the store refused the request (resending cannot help), as opposed to being away."""
    code = getattr(exc, "error_code", None)
    return code in PERMANENT_ERROR_CODES or isinstance(exc, FileNotFoundError)
