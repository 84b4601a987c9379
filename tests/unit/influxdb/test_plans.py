"""The vitals_influxdb states' decisions (salt_ext/core/influxdb/plans.py) from plain data:
what exists, what is wanted, and the statements and old/new view that follow. No server."""

import re

import pytest

from salt_ext.core.errors import ConfigError
from salt_ext.core.influxdb.plans import (
    Plan,
    default_shard_duration,
    downsample_query,
    duration_argument,
    plan_admin,
    plan_continuous_query,
    plan_continuous_query_absent,
    plan_database,
    plan_downsampling_pruned,
    plan_grant,
    plan_grant_absent,
    plan_retention_policy,
    plan_retention_policy_absent,
    plan_user,
    plan_user_absent,
)

DAY = 86400
KEEP = {"duration": 364 * DAY, "shard_duration": 7 * DAY, "replication": 1, "default": True}


def test_database_present_and_absent():
    assert plan_database("salt", ["salt"]) == Plan("database 'salt'", "database 'salt' is present")
    assert plan_database("salt", []) == Plan(
        "database 'salt'", new={"database": "salt"}, statements=['CREATE DATABASE "salt"']
    )
    assert plan_database("old", ["old"], present=False) == Plan(
        "database 'old'", old={"database": "old"}, statements=['DROP DATABASE "old"']
    )
    assert not plan_database("old", [], present=False).statements


def test_user_absent():
    assert plan_user_absent("ann", {"ann": False}).statements == ['DROP USER "ann"']
    assert plan_user_absent("ann", {}).comment == "user 'ann' is absent"


@pytest.mark.parametrize(
    ("auth_required", "comment"),
    [
        (True, "admin 'root' logs in"),
        (False, "admin 'root' logs in; authentication is off on this server"),
    ],
)
def test_an_admin_that_logs_in_is_left_alone(auth_required, comment):
    plan = plan_admin("root", "pw", True, auth_required=auth_required)
    assert plan == Plan("admin 'root'", comment)


def test_an_admin_that_cannot_log_in_on_a_server_with_users_fails():
    plan = plan_admin("root", "pw", False, users={"root": True})
    assert plan.result is False and not plan.statements
    assert plan.comment == "admin 'root' cannot log in with the configured password"


@pytest.mark.parametrize("users", [None, {}])
def test_no_users_to_see_bootstraps_the_admin_anonymously(users):
    plan = plan_admin("root", "pw'1", False, users=users)
    assert plan.statements == ["CREATE USER \"root\" WITH PASSWORD 'pw\\'1' WITH ALL PRIVILEGES"]
    assert plan.anonymous and plan.new == {"user": "root", "admin": True} and plan.old == {}
    assert plan.failure == (
        "admin 'root' cannot log in with the configured password and cannot be created"
    )
    assert "pw" not in str(plan.new) + plan.failure


def test_a_new_retention_policy_is_created_with_influxdbs_spelling():
    plan = plan_retention_policy("keep", "salt", {}, "52w", 1, "2d", True)
    assert plan.statements == [
        'CREATE RETENTION POLICY "keep" ON "salt" DURATION 8736h0m0s REPLICATION 1'
        " SHARD DURATION 48h0m0s DEFAULT"
    ]
    assert plan.new == {
        "duration": "8736h0m0s",
        "replication": 1,
        "default": True,
        "shard_duration": "48h0m0s",
    }
    assert plan.old == {}


def test_the_same_policy_written_differently_is_no_change():
    plan = plan_retention_policy("keep", "salt", {"keep": KEEP}, "364d", "1", None, True)
    assert plan == Plan(
        "retention policy 'keep' on 'salt'", "retention policy 'keep' on 'salt' is as configured"
    )


def test_what_differs_is_altered_and_nothing_else():
    plan = plan_retention_policy("keep", "salt", {"keep": KEEP}, "INF", 1, "2d")
    assert plan.statements == [
        'ALTER RETENTION POLICY "keep" ON "salt" DURATION INF SHARD DURATION 48h0m0s'
    ]
    assert plan.old == {"duration": "8736h0m0s", "shard_duration": "168h0m0s"}
    assert plan.new == {"duration": "INF", "shard_duration": "48h0m0s"}
    made_default = plan_retention_policy(
        "keep", "salt", {"keep": {**KEEP, "default": False}}, "52w", 2, default=True
    )
    assert made_default.statements == [
        'ALTER RETENTION POLICY "keep" ON "salt" REPLICATION 2 DEFAULT'
    ]
    assert made_default.old == {"replication": 1, "default": False}
    assert made_default.new == {"replication": 2, "default": True}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": "forever"}, "duration: expected an InfluxQL duration"),
        ({"duration": ""}, "duration: expected an InfluxQL duration"),
        ({"shard_duration": "1 day"}, "shard_duration: expected an InfluxQL duration"),
        ({"replication": "two"}, "replication: expected an integer, got 'two'"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        plan_retention_policy("keep", "salt", {}, **kwargs)


def test_duration_arguments():
    assert duration_argument("d", None) is None and duration_argument("d", "") is None
    assert duration_argument("d", "INF") == 0 and duration_argument("d", "1h30m") == 5400
    with pytest.raises(ConfigError, match=r"^d: "):
        duration_argument("d", None, optional=False)


def test_retention_policy_absent():
    assert plan_retention_policy_absent("keep", "salt", None).comment == (
        "retention policy 'keep' on 'salt' is absent"
    )
    assert not plan_retention_policy_absent("keep", "salt", {"autogen": {}}).statements
    plan = plan_retention_policy_absent("keep", "salt", {"keep": KEEP})
    assert plan.statements == ['DROP RETENTION POLICY "keep" ON "salt"']
    assert plan.old == {"retention_policy": "keep"} and plan.new == {}


def test_a_new_user():
    plan = plan_user("ann", "pw", False, {"root": True}, logs_in=False)
    assert plan.statements == ["CREATE USER \"ann\" WITH PASSWORD 'pw'"]
    assert plan.new == {"user": "ann", "admin": False}


def test_a_user_s_admin_flag_and_password_change_without_showing_it():
    plan = plan_user("ann", "new-pw", True, {"ann": False}, logs_in=False)
    assert plan.statements == [
        'GRANT ALL PRIVILEGES TO "ann"',
        "SET PASSWORD FOR \"ann\" = 'new-pw'",
    ]
    assert plan.old == {"admin": False, "password": "(other)"}
    assert plan.new == {"admin": True, "password": "changed"}
    assert "new-pw" not in str(plan.old) + str(plan.new)
    assert plan_user("ann", "pw", False, {"ann": False}, logs_in=True).comment == (
        "user 'ann' is present"
    )


def test_grants():
    assert plan_grant("ann", "salt", "READ", "read").comment == (
        "privilege of 'ann' on 'salt' is READ"
    )
    corrected = plan_grant("ann", "salt", "READ", "write")
    assert corrected.statements == ['GRANT WRITE ON "salt" TO "ann"']
    assert (corrected.old, corrected.new) == ({"grant": "READ"}, {"grant": "WRITE"})
    new = plan_grant("ann", "salt", None, "ALL PRIVILEGES")
    assert (new.old, new.new) == ({}, {"grant": "ALL"})
    with pytest.raises(ConfigError, match=r"^grant: expected READ, WRITE or ALL, got 'OWNER'"):
        plan_grant("ann", "salt", None, "OWNER")
    assert plan_grant_absent("ann", "salt", None).comment == "privilege of 'ann' on 'salt': none"
    revoked = plan_grant_absent("ann", "salt", "WRITE")
    assert revoked.statements == ['REVOKE ALL ON "salt" FROM "ann"']
    assert revoked.old == {"grant": "WRITE"}


# -- downsampling tiers: continuous queries ------------------------------------------------------
SELECT_1M = (
    'SELECT mean(*), max(*) INTO "salt"."vitals_1m".:MEASUREMENT FROM "salt"."vitals"./.*/'
    " GROUP BY time(1m), *"
)
CQ_1M = f'CREATE CONTINUOUS QUERY "vitals_1m" ON "salt" RESAMPLE FOR 10m BEGIN {SELECT_1M} END'
# what SHOW CONTINUOUS QUERIES answers for CQ_1M (influxd 1.6.7)
SHOWN_1M = (
    "CREATE CONTINUOUS QUERY vitals_1m ON salt RESAMPLE FOR 10m BEGIN SELECT mean(*), max(*)"
    " INTO salt.vitals_1m.:MEASUREMENT FROM salt.vitals./.*/ GROUP BY time(1m), * END"
)
WHAT_1M = "continuous query 'vitals_1m' on 'salt'"


def test_a_downsampling_query():
    assert downsample_query("vitals_1m", "salt", "vitals", "vitals_1m", "60s", "600s") == CQ_1M
    assert downsample_query("q", "salt", "vitals", "t", "10m") == (
        'CREATE CONTINUOUS QUERY "q" ON "salt" BEGIN SELECT mean(*), max(*) INTO "salt"."t"'
        '.:MEASUREMENT FROM "salt"."vitals"./.*/ GROUP BY time(10m), * END'
    )


@pytest.mark.parametrize(
    ("every", "late", "key", "message"),
    [
        ("1 min", None, "every", "InfluxQL duration"),
        ("0s", None, "every", "1s or more"),
        ("10m", "5m", "late", "at least every (10m), got '5m'"),
        ("1m", "soon", "late", "InfluxQL duration"),
    ],
)
def test_a_downsampling_query_refuses(every, late, key, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        downsample_query("q", "salt", "vitals", "t", every, late)
    assert raised.value.key == key


def test_a_continuous_query_is_created_left_alone_or_dropped_and_created():
    assert plan_continuous_query("vitals_1m", "salt", CQ_1M, {}) == Plan(
        WHAT_1M, new={"query": CQ_1M}, statements=[CQ_1M]
    )
    assert plan_continuous_query("vitals_1m", "salt", CQ_1M, {"vitals_1m": SHOWN_1M}) == Plan(
        WHAT_1M, f"{WHAT_1M} is as configured"
    )
    # InfluxDB 1.x has no ALTER CONTINUOUS QUERY: a new interval is a drop and a create
    wanted = downsample_query("vitals_1m", "salt", "vitals", "vitals_1m", "2m", "10m")
    assert plan_continuous_query("vitals_1m", "salt", wanted, {"vitals_1m": SHOWN_1M}) == Plan(
        WHAT_1M,
        old={"query": SHOWN_1M},
        new={"query": wanted},
        statements=['DROP CONTINUOUS QUERY "vitals_1m" ON "salt"', wanted],
    )


def test_a_continuous_query_absent():
    assert plan_continuous_query_absent("vitals_1m", "salt", {"vitals_1m": SHOWN_1M}) == Plan(
        WHAT_1M,
        old={"query": SHOWN_1M},
        statements=['DROP CONTINUOUS QUERY "vitals_1m" ON "salt"'],
    )
    assert plan_continuous_query_absent("vitals_1m", "salt", {}).comment == f"{WHAT_1M} is absent"


def test_the_query_of_a_removed_tier_is_dropped_and_nothing_else():
    shown = {
        "vitals_1m": SHOWN_1M,
        "vitals_5m": SHOWN_1M.replace("vitals_1m", "vitals_5m").replace("(1m)", "(5m)"),
        "theirs": "CREATE CONTINUOUS QUERY theirs ON salt BEGIN SELECT mean(x) INTO salt.autogen"
        ".y FROM salt.vitals.cpu GROUP BY time(1h) END",
        "other_source": SHOWN_1M.replace("salt.vitals./", "salt.autogen./"),
    }
    plan = plan_downsampling_pruned("salt", "vitals", ["vitals_1m", "vitals_10m"], shown)
    assert plan == Plan(
        "downsampling of 'vitals' on 'salt'",
        old={"continuous_queries": ["vitals_5m"]},
        statements=['DROP CONTINUOUS QUERY "vitals_5m" ON "salt"'],
    )
    kept = plan_downsampling_pruned("salt", "vitals", ["vitals_1m", "vitals_5m"], shown)
    assert not kept.statements


def test_a_duration_under_the_shard_duration_brings_influxdbs_shard_duration_for_it():
    # 365d has 7d shards; InfluxDB refuses 3d with them: 1d, what it gives a new 3d policy
    year = {"duration": 365 * DAY, "shard_duration": 7 * DAY, "replication": 1, "default": True}
    plan = plan_retention_policy("vitals", "salt", {"vitals": year}, "3d", default=True)
    assert plan.statements == [
        'ALTER RETENTION POLICY "vitals" ON "salt" DURATION 72h0m0s SHARD DURATION 24h0m0s'
    ]
    assert plan.new == {"duration": "72h0m0s", "shard_duration": "24h0m0s"}
    # 7d is not shorter than 7d shards: the duration only
    plan = plan_retention_policy("vitals", "salt", {"vitals": year}, "7d", default=True)
    assert plan.statements == ['ALTER RETENTION POLICY "vitals" ON "salt" DURATION 168h0m0s']
    assert [default_shard_duration(s) for s in (0, 200 * DAY, 7 * DAY, DAY)] == [
        7 * DAY,
        7 * DAY,
        DAY,
        3600,
    ]
