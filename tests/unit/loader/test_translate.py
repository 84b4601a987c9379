"""salt_ext.translate: core errors become Salt's exceptions with the core's message, the caller's
mistake (ConfigError) apart from a failed command, and anything else passes through."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.core.errors import ConfigError, DeliveryError, QueryError, VitalsError
from salt_ext.translate import salt_errors, salt_exception


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (
            ConfigError("vitals_query:url", "required"),
            SaltInvocationError,
            "vitals_query:url: required",
        ),
        (QueryError("no such node 'pi-9'"), CommandExecutionError, "no such node 'pi-9'"),
        (
            DeliveryError("cannot connect to g:2003"),
            CommandExecutionError,
            "cannot connect to g:2003",
        ),
        (VitalsError("broken"), CommandExecutionError, "broken"),
    ],
)
def test_salt_exception_keeps_the_message(error, kind, text):
    translated = salt_exception(error)
    assert type(translated) is kind
    assert str(translated) == text


def test_salt_errors_raises_the_salt_exception_without_the_core_traceback():
    with pytest.raises(SaltInvocationError) as info, salt_errors():
        raise ConfigError("vitals:groups", "unknown group 'gpu'")
    assert str(info.value) == "vitals:groups: unknown group 'gpu'"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_salt_errors_lets_other_exceptions_and_success_through():
    with pytest.raises(KeyError), salt_errors():
        raise KeyError("not ours")
    with salt_errors():
        result = 42
    assert result == 42
