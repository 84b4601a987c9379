"""
InfluxDB 1.x objects (databases, retention policies, users, grants) over salt-vitals' own HTTP
code, for the ``vitals_influxdb`` states. Salt 3008 ships no InfluxDB module and
saltext-influxdb needs the ``influxdb`` client library; these need nothing but Salt.

Connection: a ``vitals_influxdb:`` dict in minion config or pillar, every key overridable per
call::

    vitals_influxdb:
      url: http://127.0.0.1:8086
      admin_user: admin
      admin_password: CHANGE-ME
      timeout: 10         # seconds per request
      verify: true        # HTTPS certificate verification
      ca_bundle: ''
      wait: 30            # seconds to wait for /ping (a server that is just starting)

Passwords are sent in request bodies and the ``Authorization`` header only; they never appear
in a return, an error or a log line.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.core.errors import ConfigError
from salt_ext.core.influxdb import admin as influxdb_admin

__virtualname__ = "vitals_influxdb"


def __virtual__():
    return __virtualname__


def _admin(connection):
    raw = dict(__salt__["config.get"]("vitals_influxdb", {}) or {})
    for key, value in connection.items():
        if not key.startswith("__") and value is not None:
            raw[key] = value
    try:
        return influxdb_admin.connect(raw)
    except ConfigError as exc:
        raise SaltInvocationError(str(exc)) from None
    except influxdb_admin.AdminError as exc:
        raise CommandExecutionError(str(exc)) from None


def _run(connection, method, *args, **kwargs):
    admin = _admin(connection)
    try:
        return getattr(admin, method)(*args, **kwargs)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None
    except influxdb_admin.AdminError as exc:
        raise CommandExecutionError(str(exc)) from None


def ping(**connection):
    """
    True when the server answers ``/ping`` (no waiting, no credentials needed).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.ping url=http://influx:8086
    """
    connection = {**connection, "wait": 0}
    return _run(connection, "ping")


def query(statement, **connection):
    """
    Run one InfluxQL statement; return its results.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.query 'SHOW MEASUREMENTS ON salt'
    """
    return _run(connection, "query", statement)


def auth_required(**connection):
    """
    True when the server refuses anonymous queries (``auth-enabled = true``).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.auth_required
    """
    return _run(connection, "auth_required")


def bootstrap_admin(name, password, **connection):
    """
    Create the first admin user on a server with authentication on and no user yet.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.bootstrap_admin admin password=CHANGE-ME
    """
    _run(connection, "bootstrap_admin", name, password)
    return True


def authenticates(name, password, **connection):
    """
    True if ``name`` can log in with ``password`` (tries it; reads no password hash).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.authenticates salt password=CHANGE-ME
    """
    return _run(connection, "authenticates", name, password)


def db_list(**connection):
    """
    Names of all databases.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.db_list
    """
    return _run(connection, "databases")


def db_create(name, **connection):
    """
    Create database ``name`` (no error if it exists).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.db_create salt
    """
    _run(connection, "create_database", name)
    return True


def db_drop(name, **connection):
    """
    Drop database ``name`` and all of its data.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.db_drop salt
    """
    _run(connection, "drop_database", name)
    return True


def retention_policy_list(database, **connection):
    """
    Retention policies of ``database``: ``{name: {duration, shard_duration, replication,
    default}}``, durations in seconds (0 = INF).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.retention_policy_list salt
    """
    return _run(connection, "retention_policies", database)


def _seconds(key, value):
    if value is None or value == "":
        return None
    try:
        return influxdb_admin.duration_seconds(value)
    except ValueError as exc:
        raise SaltInvocationError(f"{key}: {exc}") from None


def retention_policy_create(
    name, database, duration, replication=1, shard_duration=None, default=False, **connection
):
    """
    Create retention policy ``name`` on ``database``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.retention_policy_create vitals salt 365d default=True
    """
    _run(
        connection,
        "create_retention_policy",
        name,
        database,
        _seconds("duration", duration) or 0,
        replication=replication,
        shard_duration=_seconds("shard_duration", shard_duration),
        default=default,
    )
    return True


def retention_policy_alter(
    name, database, duration=None, replication=None, shard_duration=None, default=False, **conn
):
    """
    Change retention policy ``name`` of ``database`` (``ALTER RETENTION POLICY``).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.retention_policy_alter vitals salt duration=730d
    """
    _run(
        conn,
        "alter_retention_policy",
        name,
        database,
        duration=_seconds("duration", duration),
        replication=replication,
        shard_duration=_seconds("shard_duration", shard_duration),
        default=default,
    )
    return True


def retention_policy_drop(name, database, **connection):
    """
    Drop retention policy ``name`` of ``database``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.retention_policy_drop vitals salt
    """
    _run(connection, "drop_retention_policy", name, database)
    return True


def user_list(**connection):
    """
    Users: ``{name: is_admin}``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_list
    """
    return _run(connection, "users")


def user_create(name, password, admin=False, **connection):
    """
    Create user ``name``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_create grafana password=CHANGE-ME
    """
    _run(connection, "create_user", name, password, admin=admin)
    return True


def user_set_password(name, password, **connection):
    """
    Change the password of user ``name`` (``SET PASSWORD``).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_set_password grafana password=NEW
    """
    _run(connection, "set_password", name, password)
    return True


def user_set_admin(name, admin=True, **connection):
    """
    Grant (``admin=True``) or revoke all cluster privileges of user ``name``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_set_admin ops admin=True
    """
    _run(connection, "set_admin", name, admin)
    return True


def user_drop(name, **connection):
    """
    Drop user ``name``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_drop grafana
    """
    _run(connection, "drop_user", name)
    return True


def grant_list(name, **connection):
    """
    Privileges of user ``name``: ``{database: READ|WRITE|ALL}``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.grant_list grafana
    """
    return _run(connection, "grants", name)


def grant(name, database, privilege, **connection):
    """
    Set user ``name``'s privilege on ``database`` to exactly ``privilege`` (READ, WRITE, ALL).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.grant grafana salt READ
    """
    _run(connection, "grant", name, database, privilege)
    return True


def revoke(name, database, **connection):
    """
    Remove every privilege of user ``name`` on ``database``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.revoke grafana salt
    """
    _run(connection, "revoke", name, database)
    return True
