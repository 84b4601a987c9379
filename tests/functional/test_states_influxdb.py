"""The ``vitals_influxdb`` states through Salt's loader (``state.single``) against a real influxd
with authentication on: changes reported as ``{old, new}``, ``test=True`` changing nothing,
durations compared normalised, grants corrected, password changes found by logging in and
never shown, and a wrong admin password a failed state rather than a traceback."""

import shutil

import pytest

from vitals_daemons.influxdb import InfluxD

ADMIN = ("admin", "adm-Zr4-never-shown")
SECRET = "usr-Wq9-never-shown"


@pytest.fixture(scope="module")
def influxd(tmp_path_factory):
    if shutil.which("influxd") is None:
        pytest.skip("influxd is not installed")
    with InfluxD(
        tmp_path_factory.mktemp("influxd"), auth=True, admin_user=ADMIN[0], admin_password=ADMIN[1]
    ) as daemon:
        yield daemon


@pytest.fixture
def state(loaders, influxd):
    conn = {"url": influxd.url, "admin_user": ADMIN[0], "admin_password": ADMIN[1]}

    def run(fun, name, test=False, **kwargs):
        ret = getattr(loaders.states.vitals_influxdb, fun)(
            name=name, test=test, **{**conn, **kwargs}
        )
        text = str(ret.raw)
        assert ADMIN[1] not in text and SECRET not in text and "new-secret" not in text
        return ret

    return run


def test_database_and_retention_policy(state, influxd):
    planned = state("database_present", "vitals_db", test=True)
    assert planned.result is None and planned.changes == {
        "old": {},
        "new": {"database": "vitals_db"},
    }
    assert "vitals_db" not in influxd.databases()
    assert state("database_present", "vitals_db").changes["new"] == {"database": "vitals_db"}
    assert state("database_present", "vitals_db").changes == {}

    created = state(
        "retention_policy_present", "keep", database="vitals_db", duration="52w", default=True
    )
    assert created.changes["new"]["duration"] == "8736h0m0s"
    # 364d is 52w: the same policy, written differently
    assert (
        state(
            "retention_policy_present", "keep", database="vitals_db", duration="364d", default=True
        ).changes
        == {}
    )
    planned = state(
        "retention_policy_present", "keep", database="vitals_db", duration="30d", test=True
    )
    assert planned.result is None
    assert planned.changes == {"old": {"duration": "8736h0m0s"}, "new": {"duration": "720h0m0s"}}
    altered = state(
        "retention_policy_present",
        "keep",
        database="vitals_db",
        duration="INF",
        shard_duration="2d",
    )
    assert altered.changes == {
        "old": {"duration": "8736h0m0s", "shard_duration": "168h0m0s"},
        "new": {"duration": "INF", "shard_duration": "48h0m0s"},
    }
    (row,) = [r for r in influxd.retention_policies("vitals_db") if r["name"] == "keep"]
    assert (row["duration"], row["shardGroupDuration"]) == ("0s", "48h0m0s")
    bad = state("retention_policy_present", "keep", database="vitals_db", duration="forever")
    assert bad.result is False and "forever" in bad.comment

    assert state("retention_policy_absent", "keep", database="vitals_db").changes
    assert state("database_absent", "vitals_db").changes == {
        "old": {"database": "vitals_db"},
        "new": {},
    }
    assert "vitals_db" not in influxd.databases()


def test_user_password_and_grant(state, influxd):
    state("database_present", "grants_db")
    assert state("user_present", "reader", password=SECRET).changes["new"] == {
        "user": "reader",
        "admin": False,
    }
    assert state("user_present", "reader", password=SECRET).changes == {}
    # a new password is found by trying it, reported without showing it, and set
    planned = state("user_present", "reader", password="new-secret", test=True)
    assert planned.result is None and planned.changes["new"] == {"password": "changed"}
    assert state("user_present", "reader", password=SECRET).changes == {}  # nothing changed
    assert state("user_present", "reader", password="new-secret").changes["new"] == {
        "password": "changed"
    }
    assert state("user_present", "reader", password="new-secret").changes == {}

    assert state("grant_present", "reader", database="grants_db", grant="read").changes == {
        "old": {},
        "new": {"grant": "READ"},
    }
    corrected = state("grant_present", "reader", database="grants_db", grant="WRITE")
    assert corrected.changes == {"old": {"grant": "READ"}, "new": {"grant": "WRITE"}}
    grants = influxd.query('SHOW GRANTS FOR "reader"')["results"][0]["series"][0]["values"]
    assert grants == [["grants_db", "WRITE"]]
    bad = state("grant_present", "reader", database="grants_db", grant="OWNER")
    assert bad.result is False and "READ, WRITE or ALL" in bad.comment
    assert state("grant_absent", "reader", database="grants_db").changes["old"] == {
        "grant": "WRITE"
    }
    assert state("user_absent", "reader").changes == {"old": {"user": "reader"}, "new": {}}


def test_wrong_admin_password_is_a_failed_state(state, influxd):
    ret = state("database_present", "any_db", admin_password="wrong-password")
    assert ret.result is False
    assert "refused user 'admin'" in ret.comment, ret.comment
    assert "wrong-password" not in ret.comment
    admin = state("admin_present", ADMIN[0], password="wrong-password")
    assert admin.result is False and "cannot log in" in admin.comment, admin.comment
    assert state("admin_present", ADMIN[0], password=ADMIN[1]).result is True


def test_unreachable_server_is_a_failed_state(state):
    ret = state("database_present", "any_db", url="http://127.0.0.1:9", wait=0)
    assert ret.result is False and "cannot connect" in ret.comment, ret.comment


def test_test_mode_without_a_running_server_says_so(state):
    ret = state("database_present", "any_db", url="http://127.0.0.1:9", test=True)
    assert ret.result is None and "not running" in ret.comment, ret.comment


def test_test_mode_grant_for_a_user_not_created_yet_would_be_changed(state, influxd):
    # state.apply influxdb test=True with a new user in the pillar: user_present would create
    # it, so its grant is a change to come, not a failure
    planned = state("grant_present", "newcomer", database="grants_db", grant="READ", test=True)
    assert planned.result is None, planned.comment
    assert planned.changes == {"old": {}, "new": {"grant": "READ"}}
    users = influxd.query("SHOW USERS")["results"][0].get("series", [{}])[0].get("values", [])
    assert "newcomer" not in [row[0] for row in users]
