"""Unit tests of salt_ext.core.errors: one base class, a ConfigError naming its key, a
DeliveryError saying whether the same bytes may be sent again."""

from salt_ext.core.errors import ConfigError, DeliveryError, QueryError, VitalsError


def test_every_core_error_is_a_vitals_error():
    assert all(issubclass(kind, VitalsError) for kind in (ConfigError, DeliveryError, QueryError))


def test_config_error_names_its_key_first():
    error = ConfigError("carbon:port", "must be at most 65535")
    assert error.key == "carbon:port"
    assert str(error) == "carbon:port: must be at most 65535"


def test_delivery_error_is_retryable_unless_told():
    assert DeliveryError("timed out").retryable is True
    assert DeliveryError("parse error", retryable=False).retryable is False
