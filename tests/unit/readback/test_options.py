"""Unit tests of salt_ext.core.readback.options: ``vitals_query`` parsed with errors naming the
key and hiding secrets, and a reader refused for a bad URL without its password."""

import pytest

from salt_ext.core.errors import ConfigError, QueryError
from salt_ext.core.readback import options


def test_options_name_the_key_and_hide_secrets():
    opts = options.read_options({"backend": "influxdb"})
    assert opts["url"] == "http://127.0.0.1:8086" and opts["stale_after"] == 180
    with pytest.raises(ConfigError, match=r"^vitals_query:url: required"):
        options.read_options({"backend": "graphite"})
    with pytest.raises(ConfigError, match=r"^vitals_query:backend: must be one of"):
        options.read_options({"backend": "prometheus"})
    with pytest.raises(ConfigError) as info:
        options.read_options({"backend": "influxdb", "password": ["s3cret-x"]})
    assert "s3cret-x" not in str(info.value)
    with pytest.raises(ConfigError, match=r"^vitals_query:user"):
        options.read_options({"backend": "influxdb", "password": "s3cret-x"})
    with pytest.raises(ConfigError, match=r"^vitals_query:token: required with api v2"):
        options.read_options({"backend": "influxdb", "api": "v2", "bucket": "b"})


def test_bad_url_is_a_query_error_without_the_password():
    opts = options.read_options({"backend": "influxdb", "url": "ftp://u:pw-hidden-1@x"})
    with pytest.raises(QueryError) as info:
        options.open_reader(opts)
    assert "pw-hidden-1" not in str(info.value) and "vitals_query:url" in str(info.value)
