"""One base class for every error a user can cause and fix (a bad upload, an unknown model, a
layer that does not exist). Pages show these as a message and keep serving; the API raises
them as a clear error. Anything else is a bug and is reported as one."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from a learner or an API caller; the message says what would work."""
