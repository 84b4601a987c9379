"""Core errors as Salt's, for every loader module: a :class:`~salt_ext.core.errors.ConfigError`
is the caller's mistake (``SaltInvocationError``), any other
:class:`~salt_ext.core.errors.VitalsError` a failure of the command
(``CommandExecutionError``). The message stays the core's: it names the key and never holds
a secret."""

import contextlib
from collections.abc import Iterator

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.core.errors import ConfigError, VitalsError


def salt_exception(exc: VitalsError) -> Exception:
    """The Salt exception standing for ``exc``."""
    kind = SaltInvocationError if isinstance(exc, ConfigError) else CommandExecutionError
    error: Exception = kind(str(exc))
    return error


@contextlib.contextmanager
def salt_errors() -> Iterator[None]:
    """Raise the Salt exception of any core error raised inside (no core traceback)."""
    try:
        yield
    except VitalsError as exc:
        raise salt_exception(exc) from None
