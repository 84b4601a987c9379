"""Functional tests: our modules and returners loaded through Salt's real loader."""

import pytest
import salt.loader
from saltfactories.utils.functional import Loaders


@pytest.fixture(scope="package")
def minion_opts(salt_factories, tmp_path_factory):
    factory = salt_factories.salt_minion_daemon(
        "vitals-functional",
        overrides={"file_client": "local", "master": "127.0.0.1"},
    )
    return factory.config.copy()


@pytest.fixture(scope="package")
def loaders(minion_opts):
    return Loaders(minion_opts)


@pytest.fixture
def returners(loaders):
    return salt.loader.returners(loaders.opts, loaders.modules)


@pytest.fixture(autouse=True)
def reset_loaders_state(loaders):
    try:
        yield
    finally:
        loaders.reset_state()
