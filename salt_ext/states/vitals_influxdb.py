"""
InfluxDB 1.x objects as Salt states: the first admin, databases, retention policies,
downsampling continuous queries, users and grants, over the ``vitals_influxdb`` execution
module (salt-vitals' own HTTP code; no ``influxdb`` client library). The virtual name cannot
clash with saltext-influxdb's ``influxdb_*`` states.

Every state takes the connection keys of the execution module (``url``, ``admin_user``,
``admin_password``, ``timeout``, ``verify``, ``ca_bundle``, ``wait``), defaulting to the
``vitals_influxdb:`` config/pillar dict. ``test=True`` reports what would change and changes
nothing. Passwords are never part of a state's changes or comment: a password change shows as
``password: changed``. It is detected by trying to log in with the wanted password, so no hash
is ever read.

.. code-block:: yaml

    influxdb-admin:
      vitals_influxdb.admin_present:
        - name: admin
        - password: {{ pillar['influxdb']['admin']['password'] }}

    salt:
      vitals_influxdb.database_present:
        - admin_user: admin
        - admin_password: ...

    vitals:
      vitals_influxdb.retention_policy_present:
        - database: salt
        - duration: 7d
        - default: true

    vitals_1m:
      vitals_influxdb.retention_policy_present:
        - database: salt
        - duration: 30d
      vitals_influxdb.continuous_query_present:
        - database: salt
        - source: vitals
        - every: 1m
        - late: 10m
"""

import functools
from collections.abc import Callable
from typing import Any, Optional

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.core.influxdb import plans
from salt_ext.core.influxdb.admin import CONNECTION_OPTIONS
from salt_ext.core.influxdb.plans import Plan
from salt_ext.translate import salt_errors

__salt__: dict[str, Any]
__opts__: dict[str, Any]

__virtualname__ = "vitals_influxdb"

StateReturn = dict[str, Any]


def __virtual__() -> Any:
    if "vitals_influxdb.db_list" in __salt__:
        return __virtualname__
    return (False, "the vitals_influxdb execution module is not loaded")


def _ret(name: str) -> StateReturn:
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _conn(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in CONNECTION_OPTIONS and v is not None}


def _call(fun: str, *args: Any, **kwargs: Any) -> Any:
    return __salt__[f"vitals_influxdb.{fun}"](*args, **kwargs)


def _apply(name: str, plan: Plan, conn: dict[str, Any]) -> StateReturn:
    """The state's return for ``plan``; its statements run unless test=True."""
    ret = _ret(name)
    if not plan.statements:
        ret["result"], ret["comment"] = plan.result, plan.comment
        return ret
    if __opts__["test"]:
        ret["result"], ret["comment"] = None, f"{plan.what} would be changed"
    else:
        for statement in plan.statements:
            try:
                _call("query", statement, anonymous=plan.anonymous, **conn)
            except CommandExecutionError as exc:
                if not plan.failure:
                    raise
                raise CommandExecutionError(f"{plan.failure} ({exc})") from None
        ret["comment"] = f"{plan.what} changed"
    ret["changes"] = {"old": plan.old, "new": plan.new}
    return ret


def _guard(state: Callable[..., StateReturn]) -> Callable[..., StateReturn]:
    """Failures become a failed state with the error's text (never a traceback)."""

    @functools.wraps(state)
    def wrapper(name: str, *args: Any, **kwargs: Any) -> StateReturn:
        try:
            if __opts__["test"] and not _call("ping", **_conn(kwargs)):
                # e.g. the first test run on a new host: influxd is not installed/started yet
                ret = _ret(name)
                ret["result"] = None
                ret["comment"] = "InfluxDB is not running: nothing to compare yet"
                return ret
            with salt_errors():  # the plans' argument errors
                return state(name, *args, **kwargs)
        except (CommandExecutionError, SaltInvocationError) as exc:
            ret = _ret(name)
            ret["result"] = False
            ret["comment"] = str(exc)
            return ret

    return wrapper


@_guard
def admin_present(name: str, password: str, **connection: Any) -> StateReturn:
    """
    The first admin user, bootstrapped when authentication is on and no user exists yet (the
    only statement InfluxDB then accepts without credentials). Afterwards it only checks that
    ``name``/``password`` logs in: a wrong password is a failed state, because only an admin
    can change an admin's password.

    name
        Admin user name.

    password
        Its password (from pillar).

    CLI Example:

    .. code-block:: bash

        salt '*' state.apply influxdb   # the password comes from pillar, never the CLI
    """
    conn = _conn(connection)
    conn.pop("admin_user", None)
    conn.pop("admin_password", None)
    if _call("authenticates", name, password, **conn):
        plan = plans.plan_admin(name, password, True, auth_required=_call("auth_required", **conn))
        return _apply(name, plan, conn)
    # a server with users refuses the anonymous CREATE USER: then the password is wrong
    users: Optional[dict[str, bool]]
    try:
        users = _call("user_list", **conn)
    except CommandExecutionError:
        users = None  # auth on: we cannot tell, so try the bootstrap
    return _apply(name, plans.plan_admin(name, password, False, users=users), conn)


@_guard
def database_present(name: str, **connection: Any) -> StateReturn:
    """
    Database ``name`` exists.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.database_present salt
    """
    conn = _conn(connection)
    return _apply(name, plans.plan_database(name, _call("db_list", **conn)), conn)


@_guard
def database_absent(name: str, **connection: Any) -> StateReturn:
    """
    Database ``name`` does not exist (its data is dropped).

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.database_absent old_db
    """
    conn = _conn(connection)
    return _apply(name, plans.plan_database(name, _call("db_list", **conn), present=False), conn)


@_guard
def retention_policy_present(
    name: str,
    database: str,
    duration: str = "365d",
    replication: int = 1,
    shard_duration: Optional[str] = None,
    default: bool = False,
    **kwargs: Any,
) -> StateReturn:
    """
    Retention policy ``name`` on ``database`` with this duration (normalised: ``365d`` equals
    InfluxDB's ``8760h0m0s``; ``INF`` keeps forever), replication and, when given, shard
    duration. An existing policy that differs is changed with ``ALTER RETENTION POLICY``.

    default
        Make it the database's default policy (what writes without ``rp=`` use).

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.retention_policy_present vitals \
            database=salt duration=365d default=True
    """
    conn = _conn(kwargs)
    policies = _call("retention_policy_list", database, **conn)
    plan = plans.plan_retention_policy(
        name, database, policies, duration, replication, shard_duration, default
    )
    return _apply(name, plan, conn)


@_guard
def retention_policy_absent(name: str, database: str, **connection: Any) -> StateReturn:
    """
    Retention policy ``name`` does not exist on ``database`` (a missing database counts).

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.retention_policy_absent vitals database=salt
    """
    conn = _conn(connection)
    policies = None
    if database in _call("db_list", **conn):
        policies = _call("retention_policy_list", database, **conn)
    return _apply(name, plans.plan_retention_policy_absent(name, database, policies), conn)


@_guard
def continuous_query_present(
    name: str,
    database: str,
    source: str,
    every: str,
    into: Optional[str] = None,
    late: Optional[str] = None,
    **connection: Any,
) -> StateReturn:
    """
    Continuous query ``name`` on ``database`` downsamples retention policy ``source`` into
    retention policy ``into`` (default: ``name``, which must exist): per ``every`` and tag set,
    ``mean_<field>`` and ``max_<field>`` of every numeric field of every measurement. InfluxDB
    1.x cannot alter a continuous query: when InfluxDB's rendering of the existing one differs
    (normalised) from the wanted one, it is dropped and created again.

    every
        The tier's interval (InfluxQL duration: ``1m``, ``10m``).

    late
        ``RESAMPLE FOR``: each run recomputes the intervals of this last stretch of time, so a
        point that arrives up to ``late`` after its interval began (a spool replayed after an
        outage) still reaches the tier; at least ``every``. None: the last interval only.
        Older points: ``vitals_influxdb.downsample``.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.continuous_query_present vitals_1m \
            database=salt source=vitals every=1m late=10m
    """
    conn = _conn(connection)
    statement = plans.downsample_query(name, database, source, into or name, every, late)
    shown = _call("continuous_query_list", database, **conn)
    return _apply(name, plans.plan_continuous_query(name, database, statement, shown), conn)


@_guard
def continuous_query_absent(name: str, database: str, **connection: Any) -> StateReturn:
    """
    Continuous query ``name`` does not exist on ``database`` (the data it wrote stays).

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.continuous_query_absent vitals_1m database=salt
    """
    conn = _conn(connection)
    shown = _call("continuous_query_list", database, **conn)
    return _apply(name, plans.plan_continuous_query_absent(name, database, shown), conn)


@_guard
def downsampling_pruned(
    name: str, source: str, keep: Optional[list[str]] = None, **connection: Any
) -> StateReturn:
    """
    On database ``name``, the continuous queries downsampling retention policy ``source`` (as
    ``continuous_query_present`` writes them) are only those named in ``keep``: the one of a
    tier removed from the pillar is dropped. Its retention policy and data stay until they age
    out (drop them with ``retention_policy_absent``); other continuous queries are left alone.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.downsampling_pruned salt source=vitals \
            keep='[vitals_1m, vitals_10m]'
    """
    conn = _conn(connection)
    shown = _call("continuous_query_list", name, **conn)
    plan = plans.plan_downsampling_pruned(name, source, keep or [], shown)
    return _apply(name, plan, conn)


@_guard
def user_present(name: str, password: str, admin: bool = False, **connection: Any) -> StateReturn:
    """
    User ``name`` exists with ``password`` and, with ``admin=True``, all privileges. A
    changed password is found by trying to log in with it and set with ``SET PASSWORD``; the
    change shows as ``password: changed``, never the password.

    CLI Example:

    .. code-block:: bash

        salt '*' state.apply influxdb   # passwords come from pillar, never the CLI
    """
    conn = _conn(connection)
    users = _call("user_list", **conn)
    logs_in = name in users and _call("authenticates", name, password, **conn)
    return _apply(name, plans.plan_user(name, password, admin, users, logs_in), conn)


@_guard
def user_absent(name: str, **connection: Any) -> StateReturn:
    """
    User ``name`` does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.user_absent olduser
    """
    conn = _conn(connection)
    return _apply(name, plans.plan_user_absent(name, _call("user_list", **conn)), conn)


@_guard
def grant_present(name: str, database: str, grant: str, **connection: Any) -> StateReturn:
    """
    User ``name`` has exactly privilege ``grant`` (READ, WRITE or ALL) on ``database``; any
    other privilege there is replaced.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.grant_present grafana database=salt grant=READ
    """
    conn = _conn(connection)
    # test=True before the user_present that creates the user: nothing to list yet
    missing = __opts__["test"] and name not in _call("user_list", **conn)
    current = None if missing else _call("grant_list", name, **conn).get(database)
    return _apply(name, plans.plan_grant(name, database, current, grant), conn)


@_guard
def grant_absent(name: str, database: str, **connection: Any) -> StateReturn:
    """
    User ``name`` has no privilege on ``database``.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.grant_absent grafana database=salt
    """
    conn = _conn(connection)
    current = _call("grant_list", name, **conn).get(database)
    return _apply(name, plans.plan_grant_absent(name, database, current), conn)
