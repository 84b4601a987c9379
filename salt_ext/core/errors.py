"""Exception types raised by the core.

Loader modules translate them: :class:`ConfigError` becomes ``SaltInvocationError``, any other
:class:`VitalsError` ``CommandExecutionError``. Delivery problems never reach a job: returners
catch :class:`DeliveryError`, spool the points and log one line.
"""


class VitalsError(Exception):
    """Base class of every error raised by :mod:`salt_ext.core`."""


class ConfigError(VitalsError):
    """A configuration value is invalid; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class DeliveryError(VitalsError):
    """A backend could not be reached or refused the data.

    ``retryable`` is False when sending the same bytes again can never succeed (a parse error,
    a rejected payload): such data is dropped and logged, not spooled.
    """

    def __init__(self, message: str, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class QueryError(VitalsError):
    """Reading vitals back failed: backend unreachable, refused or asked for something that
    does not exist. The message is one line, names what exists and never holds a secret."""
