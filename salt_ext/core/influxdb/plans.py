"""What the ``vitals_influxdb`` states decide, as pure functions: given what exists on the
server and what is wanted, a :class:`Plan` of the InfluxQL statements that make it so and how
the change reads (``old`` -> ``new``, never a password).

The state module gathers the facts (``SHOW ...`` through the execution module), asks a
``plan_*`` function and, unless ``test=True``, runs the plan's statements; no plan touches the
network. Arguments are checked here with errors naming the argument (:class:`ConfigError`).
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from salt_ext.core.durations import influxql_seconds
from salt_ext.core.errors import ConfigError
from salt_ext.core.influxdb.influxql import (
    check_privilege,
    create_continuous_query_statement,
    create_database_statement,
    create_user_statement,
    downsample_source,
    downsample_statement,
    drop_continuous_query_statement,
    drop_database_statement,
    drop_retention_policy_statement,
    drop_user_statement,
    format_duration,
    grant_statement,
    normalise_query,
    retention_policy_statement,
    revoke_statement,
    set_admin_statement,
    set_password_statement,
)


@dataclass
class Plan:
    """What one state changes. No ``statements``: nothing to change, the state's result is
    ``result`` with ``comment``. Else ``statements`` run in order, as the admin or, with
    ``anonymous``, without credentials; ``failure`` words what a failing one means."""

    what: str  # "retention policy 'keep' on 'salt'"
    comment: str = ""
    result: bool = True
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)
    anonymous: bool = False
    failure: str = ""


# -- arguments ---------------------------------------------------------------------------------
def duration_argument(key: str, value: object, optional: bool = True) -> Optional[int]:
    """Seconds of an InfluxQL duration argument (None when ``optional`` and not given);
    ConfigError naming ``key`` for anything else."""
    if optional and (value is None or value == ""):
        return None
    try:
        return influxql_seconds(value)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


def privilege_argument(key: str, value: object) -> str:
    """READ, WRITE or ALL from any spelling of it; ConfigError naming ``key`` else."""
    try:
        return check_privilege(value)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


def _int_argument(key: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"expected an integer, got {value!r}") from None


# -- plans -------------------------------------------------------------------------------------
def _listed(kind: str, name: str, listed: Collection[str], present: bool, statement: str) -> Plan:
    """A ``kind`` that exists when ``listed`` holds ``name``, made present or absent."""
    what = f"{kind} {name!r}"
    if (name in listed) == present:
        return Plan(what, f"{what} is {'present' if present else 'absent'}")
    view = {kind: name}
    old, new = ({}, view) if present else (view, {})
    return Plan(what, old=old, new=new, statements=[statement])


def plan_database(name: str, databases: Collection[str], present: bool = True) -> Plan:
    """Database ``name`` created (``present``) or dropped."""
    statement = create_database_statement(name) if present else drop_database_statement(name)
    return _listed("database", name, databases, present, statement)


def plan_user_absent(name: str, users: Collection[str]) -> Plan:
    return _listed("user", name, users, False, drop_user_statement(name))


def plan_admin(
    name: str,
    password: str,
    logs_in: bool,
    auth_required: Optional[bool] = None,
    users: Optional[Collection[str]] = None,
) -> Plan:
    """The first admin. ``logs_in``: ``name``/``password`` is accepted; then
    ``auth_required`` (is authentication on) only words the comment. Otherwise ``users``
    (None: they could not be listed) decides: a server with users means a wrong password, a
    failed state, because only an admin can change an admin's password; a server without
    (or one that hides them) gets the admin bootstrapped, the one statement InfluxDB takes
    without credentials when authentication is on and no user exists."""
    what = f"admin {name!r}"
    if logs_in:
        off = "" if auth_required else "; authentication is off on this server"
        return Plan(what, f"{what} logs in{off}")
    if users:
        return Plan(what, f"{what} cannot log in with the configured password", result=False)
    return Plan(
        what,
        new={"user": name, "admin": True},
        statements=[create_user_statement(name, password, admin=True)],
        anonymous=True,
        failure=f"{what} cannot log in with the configured password and cannot be created",
    )


def default_shard_duration(seconds: int) -> int:
    """InfluxDB 1.x's shard group duration for a retention policy of ``seconds`` (0: forever):
    7d from 6 months (and forever), 1d from 2 days, else 1h."""
    if not seconds or seconds >= 180 * 86400:
        return 7 * 86400
    return 86400 if seconds >= 2 * 86400 else 3600


def _policy_view(policy: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "duration": format_duration(policy["duration"]),
        "shard_duration": format_duration(policy["shard_duration"]),
        "replication": policy["replication"],
        "default": policy["default"],
    }


def plan_retention_policy(
    name: str,
    database: str,
    policies: Mapping[str, Mapping[str, Any]],
    duration: object = "365d",
    replication: object = 1,
    shard_duration: object = None,
    default: bool = False,
) -> Plan:
    """Retention policy ``name`` on ``database`` with this duration, replication, shard
    duration (when given) and, with ``default``, the database's default: created when
    ``policies`` (as :func:`salt_ext.core.influxdb.influxql.retention_policies` reads them) has
    none such, else altered in what differs (a duration shorter than the current shard
    duration, none given, with InfluxDB's own shard duration for it). Durations compare
    normalised (``52w`` is ``364d``); the statements carry InfluxDB's own spelling
    (``8736h0m0s``)."""
    seconds = duration_argument("duration", duration, optional=False) or 0
    shard = duration_argument("shard_duration", shard_duration)
    copies = _int_argument("replication", replication)
    what = f"retention policy {name!r} on {database!r}"
    if name not in policies:
        new = {
            "duration": format_duration(seconds),
            "replication": copies,
            "default": bool(default),
        }
        if shard:
            new["shard_duration"] = format_duration(shard)
        statement = retention_policy_statement(
            "CREATE", name, database, seconds, copies, shard, bool(default)
        )
        return Plan(what, new=new, statements=[statement])
    current = policies[name]
    alter: dict[str, Any] = {}
    if current["duration"] != seconds:
        alter["duration"] = seconds
    if current["replication"] != copies:
        alter["replication"] = copies
    if shard and current["shard_duration"] != shard:
        alter["shard_duration"] = shard
    elif not shard and seconds and seconds < current["shard_duration"]:
        # InfluxDB refuses a duration shorter than the shard duration: take the one it would
        # choose for the new duration (365d -> 3d: 7d shards -> 1d)
        alter["shard_duration"] = default_shard_duration(seconds)
    if default and not current["default"]:
        alter["default"] = True
    if not alter:
        return Plan(what, f"{what} is as configured")
    view = _policy_view(current)
    durations = ("duration", "shard_duration")
    return Plan(
        what,
        old={key: view[key] for key in alter},
        new={key: format_duration(v) if key in durations else v for key, v in alter.items()},
        statements=[
            retention_policy_statement(
                "ALTER",
                name,
                database,
                alter.get("duration"),
                alter.get("replication"),
                alter.get("shard_duration"),
                alter.get("default", False),
            )
        ],
    )


def plan_retention_policy_absent(
    name: str, database: str, policies: Optional[Collection[str]]
) -> Plan:
    """Retention policy ``name`` dropped; ``policies`` None: the database does not exist
    (which counts as absent)."""
    what = f"retention policy {name!r} on {database!r}"
    if policies is None or name not in policies:
        return Plan(what, f"{what} is absent")
    return Plan(
        what,
        old={"retention_policy": name},
        statements=[drop_retention_policy_statement(name, database)],
    )


def plan_user(
    name: str, password: str, admin: bool, users: Mapping[str, bool], logs_in: bool
) -> Plan:
    """User ``name`` with ``password`` and (``admin``) all privileges: created when ``users``
    (``{name: is_admin}``) has none such; else its admin flag set when it differs and its
    password when it does not log in with it (``logs_in``), shown as ``password: changed``."""
    what = f"user {name!r}"
    admin = bool(admin)
    if name not in users:
        return Plan(
            what,
            new={"user": name, "admin": admin},
            statements=[create_user_statement(name, password, admin=admin)],
        )
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    statements = []
    if users[name] != admin:
        old["admin"], new["admin"] = users[name], admin
        statements.append(set_admin_statement(name, admin))
    if not logs_in:
        old["password"], new["password"] = "(other)", "changed"
        statements.append(set_password_statement(name, password))
    if not statements:
        return Plan(what, f"{what} is present")
    return Plan(what, old=old, new=new, statements=statements)


def plan_grant(user: str, database: str, current: Optional[str], grant: object) -> Plan:
    """``user`` holds exactly privilege ``grant`` on ``database`` (``current``: what it holds
    there now, None for nothing); any other privilege there is replaced."""
    wanted = privilege_argument("grant", grant)
    what = f"privilege of {user!r} on {database!r}"
    if current == wanted:
        return Plan(what, f"{what} is {wanted}")
    return Plan(
        what,
        old={"grant": current} if current else {},
        new={"grant": wanted},
        statements=[grant_statement(user, database, wanted)],
    )


def plan_grant_absent(user: str, database: str, current: Optional[str]) -> Plan:
    what = f"privilege of {user!r} on {database!r}"
    if not current:
        return Plan(what, f"{what}: none")
    return Plan(what, old={"grant": current}, statements=[revoke_statement(user, database)])


# -- continuous queries ------------------------------------------------------------------------
def downsample_query(
    name: str, database: str, source: str, into: str, every: object, late: object = None
) -> str:
    """The ``CREATE CONTINUOUS QUERY`` of downsampling tier ``into``: mean and max per
    ``every`` of policy ``source``, recomputed over the last ``late`` (``RESAMPLE FOR``: a
    point that arrives up to ``late`` after its interval began still reaches the tier; none
    given: InfluxDB's default, the last interval only). ConfigError naming the argument for a
    duration that is not one, ``every`` under 1 s, or ``late`` shorter than ``every``."""
    seconds = duration_argument("every", every, optional=False) or 0
    if seconds < 1:
        raise ConfigError("every", f"expected a duration of 1s or more, got {every!r}")
    window = duration_argument("late", late)
    if window is not None and window < seconds:
        raise ConfigError("late", f"expected at least every ({every}), got {late!r}")
    select = downsample_statement(database, source, into, seconds)
    return create_continuous_query_statement(name, database, select, window)


def plan_continuous_query(
    name: str, database: str, statement: str, shown: Mapping[str, str]
) -> Plan:
    """Continuous query ``name`` on ``database`` is ``statement`` (a ``CREATE CONTINUOUS
    QUERY``). ``shown``: ``{name: query}`` of the database, InfluxDB's own rendering. InfluxDB
    1.x cannot alter a continuous query: one whose normalised text differs is dropped and
    created again (the tier's data stays; the next run fills the intervals it covers)."""
    what = f"continuous query {name!r} on {database!r}"
    current = shown.get(name)
    if current is not None and normalise_query(current) == normalise_query(statement):
        return Plan(what, f"{what} is as configured")
    statements = [statement]
    old = {}
    if current is not None:
        statements.insert(0, drop_continuous_query_statement(name, database))
        old = {"query": current}
    return Plan(what, old=old, new={"query": statement}, statements=statements)


def plan_continuous_query_absent(name: str, database: str, shown: Mapping[str, str]) -> Plan:
    what = f"continuous query {name!r} on {database!r}"
    if name not in shown:
        return Plan(what, f"{what} is absent")
    return Plan(
        what,
        old={"query": shown[name]},
        statements=[drop_continuous_query_statement(name, database)],
    )


def plan_downsampling_pruned(
    database: str, source: str, keep: Collection[str], shown: Mapping[str, str]
) -> Plan:
    """The downsampling continuous queries of policy ``source`` on ``database`` (those that
    read every measurement of it, as :func:`downsample_query` writes them) are only those named
    in ``keep``: any other, left by a tier removed from the pillar, is dropped. Continuous
    queries of another shape are someone else's and stay."""
    what = f"downsampling of {source!r} on {database!r}"
    reads = normalise_query(downsample_source(database, source))
    stale = sorted(
        name
        for name, query in shown.items()
        if name not in keep and f" {reads} " in f" {normalise_query(query)} "
    )
    if not stale:
        return Plan(what, f"{what}: no continuous query of a removed tier")
    return Plan(
        what,
        old={"continuous_queries": stale},
        statements=[drop_continuous_query_statement(name, database) for name in stale],
    )
