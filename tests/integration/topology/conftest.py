"""Two carbon-caches behind two carbon-c-relays hashing metric paths over them.

Package-scoped: the relay and the syndic tests share them. Each relay hashes with
``fnv1a_ch`` over the same two caches, so both relays send a given path to the same cache.
"""

import pytest

from vitals_daemons.carbon import CarbonCache
from vitals_daemons.carbon_c_relay import CarbonCRelay
from vitals_daemons.process import BackendUnavailable


@pytest.fixture(scope="package")
def caches(tmp_path_factory):
    with CarbonCache(tmp_path_factory.mktemp("cache-a")) as first:
        with CarbonCache(tmp_path_factory.mktemp("cache-b")) as second:
            yield [first, second]


@pytest.fixture(scope="package")
def relays(tmp_path_factory, caches):
    destinations = [(cache.host, cache.line_port) for cache in caches]
    try:
        pair = [CarbonCRelay(tmp_path_factory.mktemp(f"relay-{n}"), destinations) for n in "ab"]
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with pair[0]:
        with pair[1]:
            yield pair
