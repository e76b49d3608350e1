"""Typed errors of the core.

Network outcomes that a peer *answers* (a rejection, a DIMSE status) are data, not
exceptions: see :mod:`pacsadmin.core.dimse.status`.  These exceptions are for input that
cannot be used and for local failures.
"""

from __future__ import annotations


class PacsAdminError(Exception):
    """Base class: ``str(exc)`` is a sentence a person can act on."""


class PacsAdminWarning(UserWarning):
    """Our own warnings; the test-suite turns them into errors."""


class ValidationError(PacsAdminError, ValueError):
    """A value entered by the user is not acceptable.

    ``field`` names the field (``"ae_title"``, ``"port"``...) so a dialog can show the
    message next to it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NodeNotFound(PacsAdminError, KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No node named {name!r} in the node directory.")
        self.name = name

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class DuplicateNode(PacsAdminError):
    pass


class SettingsError(PacsAdminError):
    pass


class SecretStoreUnavailable(PacsAdminError):
    """No usable OS keyring: the secret was not stored anywhere."""


class JobCancelled(PacsAdminError):
    pass
