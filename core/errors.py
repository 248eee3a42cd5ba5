"""One base class for every error a user can cause and fix (a bad upload, an unknown model, a
layer that does not exist). Pages show these as a message and keep serving; the API raises
them as a clear error. Anything else is a bug and is reported as one."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from a learner or an API caller; the message says what would work."""


def one_of(value, choices, what: str, error: type[UserError] = UserError):
    """value when it is one of choices, else `error` with the one sentence every page uses for a wrong choice:
    "Unknown <what> 'x'. Choose one of: a, b, c." """
    if value not in choices:
        raise error(f"Unknown {what} {value!r}. Choose one of: {', '.join(map(str, choices))}.")
    return value


def not_here(name: str, kind: str, choices, error: type[UserError] = UserError) -> UserError:
    """The error for a known name that this page cannot use: "<name> is not <kind>. Choose one of: a, b." """
    return error(f"{name} is not {kind}. Choose one of: {', '.join(map(str, choices))}.")
