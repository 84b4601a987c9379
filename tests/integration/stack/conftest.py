"""A real salt-master and two minions in front of the session's carbon-cache and influxd.

They start once per test session (about 15 s) and stop at its end. The minions load salt-vitals
from the installed wheel through its ``salt.loader`` entry point, exactly as in production.
"""

import pytest

from support.stack import (
    INFLUX_PASSWORD,
    INFLUX_USER,
    MINION_IDS,
    SCHEDULE_PREFIX,
    WRONG_PASSWORD,
    all_started,
)


@pytest.fixture(scope="session")
def salt_master(salt_factories, carbon):
    overrides = {
        "vitals_pollpush": {"tgt": "vitals-minion-*", "returners": "carbon"},
        # The master schedule fires pollpush on its own; its points use their own prefix so
        # they never mix with what the tests publish.
        "schedule": {
            "vitals-pollpush": {
                "function": "vitals.pollpush",
                "seconds": 5,
                "kwargs": {"ret_kwargs": {"prefix": SCHEDULE_PREFIX}},
            }
        },
        "keep_jobs_seconds": 3600,
    }
    factory = salt_factories.salt_master_daemon("vitals-master", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def salt_minions(salt_master, carbon, influxd):
    overrides = {
        "carbon": {"host": "127.0.0.1", "port": carbon.line_port, "timeout": 2},
        "vitals": {"sample_interval": 0.3},
        "log_level_logfile": "debug",  # the secrets test greps every log line
    }
    if influxd is not None:
        influx = {
            "url": influxd.url,
            "db": "vitals",
            "user": INFLUX_USER,
            "timeout": 2,
            "retention_duration": "30d",
        }
        overrides["influxdb"] = {**influx, "password": INFLUX_PASSWORD}
        # a ret_config profile, written as Salt reads profiles: "<profile>.<returner>"
        overrides["badauth.influxdb"] = {**influx, "password": WRONG_PASSWORD}
    factories = [salt_master.salt_minion_daemon(mid, overrides=overrides) for mid in MINION_IDS]
    with all_started(factories):
        yield factories


@pytest.fixture(scope="session")
def salt_cli(salt_master, salt_minions):
    return salt_master.salt_cli(timeout=60)


@pytest.fixture(scope="session")
def salt_run_cli(salt_master, salt_minions):
    return salt_master.salt_run_cli(timeout=60)
