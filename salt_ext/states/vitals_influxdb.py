"""
InfluxDB 1.x objects as Salt states: the first admin, databases, retention policies, users and
grants, over the ``vitals_influxdb`` execution module (salt-vitals' own HTTP code; no
``influxdb`` client library). The virtual name cannot clash with saltext-influxdb's
``influxdb_*`` states.

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
        - duration: 365d
        - default: true
"""

import functools

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.core.influxdb.admin import (
    CONNECTION_OPTIONS,
    check_privilege,
    duration_seconds,
    format_duration,
)

__virtualname__ = "vitals_influxdb"


def __virtual__():
    if "vitals_influxdb.db_list" in __salt__:
        return __virtualname__
    return (False, "the vitals_influxdb execution module is not loaded")


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _conn(kwargs):
    return {k: v for k, v in kwargs.items() if k in CONNECTION_OPTIONS and v is not None}


def _call(fun, *args, **kwargs):
    return __salt__[f"vitals_influxdb.{fun}"](*args, **kwargs)


def _apply(ret, old, new, what, action):
    """Report ``old`` -> ``new``; run ``action`` unless test=True."""
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"{what} would be changed"
        ret["changes"] = {"old": old, "new": new}
        return ret
    action()
    ret["comment"] = f"{what} changed"
    ret["changes"] = {"old": old, "new": new}
    return ret


def _listed(name, connection, kind, list_fun, present=None, absent=None):
    """A ``kind`` that is there when ``list_fun`` lists ``name``: made present with the
    ``present`` function or absent with the ``absent`` one (one of the two is given)."""
    ret = _ret(name)
    conn = _conn(connection)
    want = present is not None
    if (name in _call(list_fun, **conn)) == want:
        ret["comment"] = f"{kind} {name!r} is {'present' if want else 'absent'}"
        return ret
    view = {kind: name}
    old, new = ({}, view) if want else (view, {})
    change = present if want else absent
    return _apply(ret, old, new, f"{kind} {name!r}", lambda: _call(change, name, **conn))


def _guard(state):
    """Failures become a failed state with the error's text (never a traceback)."""

    @functools.wraps(state)
    def wrapper(name, *args, **kwargs):
        try:
            if __opts__["test"] and not _call("ping", **_conn(kwargs)):
                # e.g. the first test run on a new host: influxd is not installed/started yet
                ret = _ret(name)
                ret["result"] = None
                ret["comment"] = "InfluxDB is not running: nothing to compare yet"
                return ret
            return state(name, *args, **kwargs)
        except (CommandExecutionError, SaltInvocationError) as exc:
            ret = _ret(name)
            ret["result"] = False
            ret["comment"] = str(exc)
            return ret

    return wrapper


@_guard
def admin_present(name, password, **connection):
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
    ret = _ret(name)
    conn = _conn(connection)
    conn.pop("admin_user", None)
    conn.pop("admin_password", None)
    if _call("authenticates", name, password, **conn):
        if _call("auth_required", **conn):
            ret["comment"] = f"admin {name!r} logs in"
        else:
            ret["comment"] = f"admin {name!r} logs in; authentication is off on this server"
        return ret
    # a server with users refuses the anonymous CREATE USER: then the password is wrong
    try:
        users = _call("user_list", **conn)
    except CommandExecutionError:
        users = None  # auth on: we cannot tell, so try the bootstrap
    if users:
        ret["result"] = False
        ret["comment"] = f"admin {name!r} cannot log in with the configured password"
        return ret

    def bootstrap():
        try:
            _call("bootstrap_admin", name, password, **conn)
        except CommandExecutionError as exc:
            raise CommandExecutionError(
                f"admin {name!r} cannot log in with the configured password and cannot be "
                f"created ({exc})"
            ) from None

    return _apply(ret, {}, {"user": name, "admin": True}, f"admin {name!r}", bootstrap)


@_guard
def database_present(name, **connection):
    """
    Database ``name`` exists.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.database_present salt
    """
    return _listed(name, connection, "database", "db_list", present="db_create")


@_guard
def database_absent(name, **connection):
    """
    Database ``name`` does not exist (its data is dropped).

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.database_absent old_db
    """
    return _listed(name, connection, "database", "db_list", absent="db_drop")


def _rp_view(policy):
    return {
        "duration": format_duration(policy["duration"]),
        "shard_duration": format_duration(policy["shard_duration"]),
        "replication": policy["replication"],
        "default": policy["default"],
    }


@_guard
def retention_policy_present(
    name, database, duration="365d", replication=1, shard_duration=None, default=False, **kwargs
):
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
    ret = _ret(name)
    conn = _conn(kwargs)
    try:
        wanted = {
            "duration": duration_seconds(duration),
            "shard_duration": duration_seconds(shard_duration) if shard_duration else None,
        }
    except ValueError as exc:
        raise SaltInvocationError(f"{name}: {exc}") from None
    replication = int(replication)
    policies = _call("retention_policy_list", database, **conn)
    what = f"retention policy {name!r} on {database!r}"
    if name not in policies:
        new = {
            "duration": format_duration(wanted["duration"]),
            "replication": replication,
            "default": bool(default),
        }
        if wanted["shard_duration"]:
            new["shard_duration"] = format_duration(wanted["shard_duration"])

        def create():
            _call(
                "retention_policy_create",
                name,
                database,
                duration,
                replication=replication,
                shard_duration=shard_duration,
                default=default,
                **conn,
            )

        return _apply(ret, {}, new, what, create)
    current = policies[name]
    old, new, alter = {}, {}, {}
    if current["duration"] != wanted["duration"]:
        alter["duration"] = duration
    if current["replication"] != replication:
        alter["replication"] = replication
    if wanted["shard_duration"] and current["shard_duration"] != wanted["shard_duration"]:
        alter["shard_duration"] = shard_duration
    if default and not current["default"]:
        alter["default"] = True
    if not alter:
        ret["comment"] = f"{what} is as configured"
        return ret
    view = _rp_view(current)
    for key, value in alter.items():
        old[key] = view[key]
        new[key] = (
            format_duration(duration_seconds(value))
            if key in ("duration", "shard_duration")
            else value
        )
    return _apply(
        ret,
        old,
        new,
        what,
        lambda: _call("retention_policy_alter", name, database, **alter, **conn),
    )


@_guard
def retention_policy_absent(name, database, **connection):
    """
    Retention policy ``name`` does not exist on ``database`` (a missing database counts).

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.retention_policy_absent vitals database=salt
    """
    ret = _ret(name)
    conn = _conn(connection)
    what = f"retention policy {name!r} on {database!r}"
    if database not in _call("db_list", **conn) or name not in _call(
        "retention_policy_list", database, **conn
    ):
        ret["comment"] = f"{what} is absent"
        return ret
    return _apply(
        ret,
        {"retention_policy": name},
        {},
        what,
        lambda: _call("retention_policy_drop", name, database, **conn),
    )


@_guard
def user_present(name, password, admin=False, **connection):
    """
    User ``name`` exists with ``password`` and, with ``admin=True``, all privileges. A
    changed password is found by trying to log in with it and set with ``SET PASSWORD``; the
    change shows as ``password: changed``, never the password.

    CLI Example:

    .. code-block:: bash

        salt '*' state.apply influxdb   # passwords come from pillar, never the CLI
    """
    ret = _ret(name)
    conn = _conn(connection)
    users = _call("user_list", **conn)
    what = f"user {name!r}"
    if name not in users:
        return _apply(
            ret,
            {},
            {"user": name, "admin": bool(admin)},
            what,
            lambda: _call("user_create", name, password, admin=admin, **conn),
        )
    old, new, actions = {}, {}, []
    if users[name] != bool(admin):
        old["admin"], new["admin"] = users[name], bool(admin)
        actions.append(lambda: _call("user_set_admin", name, bool(admin), **conn))
    if not _call("authenticates", name, password, **conn):
        old["password"], new["password"] = "(other)", "changed"
        actions.append(lambda: _call("user_set_password", name, password, **conn))
    if not actions:
        ret["comment"] = f"{what} is present"
        return ret

    def run():
        for action in actions:
            action()

    return _apply(ret, old, new, what, run)


@_guard
def user_absent(name, **connection):
    """
    User ``name`` does not exist.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.user_absent olduser
    """
    return _listed(name, connection, "user", "user_list", absent="user_drop")


@_guard
def grant_present(name, database, grant, **connection):
    """
    User ``name`` has exactly privilege ``grant`` (READ, WRITE or ALL) on ``database``; any
    other privilege there is replaced.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.grant_present grafana database=salt grant=READ
    """
    ret = _ret(name)
    conn = _conn(connection)
    try:
        wanted = check_privilege(grant)
    except ValueError as exc:
        raise SaltInvocationError(f"grant: {exc}") from None
    what = f"privilege of {name!r} on {database!r}"
    # test=True before the user_present that creates the user: nothing to list yet
    missing = __opts__["test"] and name not in _call("user_list", **conn)
    current = None if missing else _call("grant_list", name, **conn).get(database)
    if current == wanted:
        ret["comment"] = f"{what} is {wanted}"
        return ret
    return _apply(
        ret,
        {"grant": current} if current else {},
        {"grant": wanted},
        what,
        lambda: _call("grant", name, database, wanted, **conn),
    )


@_guard
def grant_absent(name, database, **connection):
    """
    User ``name`` has no privilege on ``database``.

    CLI Example:

    .. code-block:: bash

        salt '*' state.single vitals_influxdb.grant_absent grafana database=salt
    """
    ret = _ret(name)
    conn = _conn(connection)
    current = _call("grant_list", name, **conn).get(database)
    what = f"privilege of {name!r} on {database!r}"
    if not current:
        ret["comment"] = f"{what}: none"
        return ret
    return _apply(
        ret, {"grant": current}, {}, what, lambda: _call("revoke", name, database, **conn)
    )
