"""
InfluxDB 1.x objects (databases, retention policies, continuous queries, users, grants) over
salt-vitals' own HTTP code, for the ``vitals_influxdb`` states. Salt 3008 ships no InfluxDB
module and saltext-influxdb needs the ``influxdb`` client library; these need nothing but Salt.

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

from typing import Any, Optional

from salt_ext.core.durations import influxql_seconds
from salt_ext.core.influxdb.admin import CONNECTION_KEY, InfluxAdmin, connect
from salt_ext.translate import salt_errors

__salt__: dict[str, Any]

__virtualname__ = "vitals_influxdb"


def __virtual__() -> str:
    return __virtualname__


def _admin(connection: dict[str, Any]) -> InfluxAdmin:
    """The admin for ``vitals_influxdb:`` from config/pillar with this call's keys over it
    (Salt's own ``__pub_*`` keywords left out); call inside :func:`salt_errors`."""
    raw = dict(__salt__["config.get"](CONNECTION_KEY, {}) or {})
    raw.update({k: v for k, v in connection.items() if not k.startswith("__") and v is not None})
    return connect(raw)


def ping(**connection: Any) -> bool:
    """
    True when the server answers ``/ping`` (no waiting, no credentials needed).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.ping url=http://influx:8086
    """
    with salt_errors():
        return _admin({**connection, "wait": 0}).client.ping()


def query(statement: str, anonymous: bool = False, **connection: Any) -> list[dict[str, Any]]:
    """
    Run InfluxQL as the admin or, with ``anonymous=True``, without credentials (what the
    first admin is created with); return its results.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.query 'SHOW MEASUREMENTS ON salt'
    """
    with salt_errors():
        return _admin(connection).query(statement, anonymous=anonymous)


def auth_required(**connection: Any) -> bool:
    """
    True when the server refuses anonymous queries (``auth-enabled = true``).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.auth_required
    """
    with salt_errors():
        return _admin(connection).auth_required()


def bootstrap_admin(name: str, password: str, **connection: Any) -> bool:
    """
    Create the first admin user on a server with authentication on and no user yet.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.bootstrap_admin admin password=CHANGE-ME
    """
    with salt_errors():
        _admin(connection).bootstrap_admin(name, password)
    return True


def authenticates(name: str, password: str, **connection: Any) -> bool:
    """
    True if ``name`` can log in with ``password`` (tries it; reads no password hash).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.authenticates salt password=CHANGE-ME
    """
    with salt_errors():
        return _admin(connection).authenticates(name, password)


def db_list(**connection: Any) -> list[str]:
    """
    Names of all databases.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.db_list
    """
    with salt_errors():
        return _admin(connection).databases()


def db_create(name: str, **connection: Any) -> bool:
    """
    Create database ``name`` (no error if it exists).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.db_create salt
    """
    with salt_errors():
        _admin(connection).create_database(name)
    return True


def db_drop(name: str, **connection: Any) -> bool:
    """
    Drop database ``name`` and all of its data.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.db_drop salt
    """
    with salt_errors():
        _admin(connection).drop_database(name)
    return True


def retention_policy_list(database: str, **connection: Any) -> dict[str, dict[str, Any]]:
    """
    Retention policies of ``database``: ``{name: {duration, shard_duration, replication,
    default}}``, durations in seconds (0 = INF).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.retention_policy_list salt
    """
    with salt_errors():
        return _admin(connection).retention_policies(database)


def retention_policy_create(
    name: str,
    database: str,
    duration: str,
    replication: int = 1,
    shard_duration: Optional[str] = None,
    default: bool = False,
    **connection: Any,
) -> bool:
    """
    Create retention policy ``name`` on ``database``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.retention_policy_create vitals salt 365d default=True
    """
    with salt_errors():
        admin = _admin(connection)
        admin.create_retention_policy(
            name, database, duration, replication, shard_duration, default
        )
    return True


def retention_policy_alter(
    name: str,
    database: str,
    duration: Optional[str] = None,
    replication: Optional[int] = None,
    shard_duration: Optional[str] = None,
    default: bool = False,
    **connection: Any,
) -> bool:
    """
    Change retention policy ``name`` of ``database`` (``ALTER RETENTION POLICY``).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.retention_policy_alter vitals salt duration=730d
    """
    with salt_errors():
        admin = _admin(connection)
        admin.alter_retention_policy(name, database, duration, replication, shard_duration, default)
    return True


def retention_policy_drop(name: str, database: str, **connection: Any) -> bool:
    """
    Drop retention policy ``name`` of ``database``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.retention_policy_drop vitals salt
    """
    with salt_errors():
        _admin(connection).drop_retention_policy(name, database)
    return True


def continuous_query_list(database: str, **connection: Any) -> dict[str, str]:
    """
    Continuous queries of ``database``: ``{name: query}``, each as InfluxDB renders it.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.continuous_query_list salt
    """
    with salt_errors():
        return _admin(connection).continuous_queries(database)


def downsample(
    database: str,
    source: str,
    tier: str,
    every: str,
    start: int,
    end: int,
    **connection: Any,
) -> int:
    """
    Fill downsampling tier ``tier`` from retention policy ``source`` for ``start`` to ``end``
    (Unix seconds, end excluded) with the statement of the tier's continuous query: for points
    that arrived later than the tier's ``late`` (a long outage replayed from the spools).
    Returns the number of points written.

    CLI Example:

    .. code-block:: bash

        salt influx-host vitals_influxdb.downsample salt vitals vitals_1m 1m \
            start=1796500000 end=1796541000
    """
    with salt_errors():
        return _admin(connection).downsample(database, source, tier, every, start, end)


def user_list(**connection: Any) -> dict[str, bool]:
    """
    Users: ``{name: is_admin}``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_list
    """
    with salt_errors():
        return _admin(connection).users()


def user_create(name: str, password: str, admin: bool = False, **connection: Any) -> bool:
    """
    Create user ``name``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_create grafana password=CHANGE-ME
    """
    with salt_errors():
        _admin(connection).create_user(name, password, admin=admin)
    return True


def user_set_password(name: str, password: str, **connection: Any) -> bool:
    """
    Change the password of user ``name`` (``SET PASSWORD``).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_set_password grafana password=NEW
    """
    with salt_errors():
        _admin(connection).set_password(name, password)
    return True


def user_set_admin(name: str, admin: bool = True, **connection: Any) -> bool:
    """
    Grant (``admin=True``) or revoke all cluster privileges of user ``name``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_set_admin ops admin=True
    """
    with salt_errors():
        _admin(connection).set_admin(name, admin)
    return True


def user_drop(name: str, **connection: Any) -> bool:
    """
    Drop user ``name``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.user_drop grafana
    """
    with salt_errors():
        _admin(connection).drop_user(name)
    return True


def grant_list(name: str, **connection: Any) -> dict[str, str]:
    """
    Privileges of user ``name``: ``{database: READ|WRITE|ALL}``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.grant_list grafana
    """
    with salt_errors():
        return _admin(connection).grants(name)


def grant(name: str, database: str, privilege: str, **connection: Any) -> bool:
    """
    Set user ``name``'s privilege on ``database`` to exactly ``privilege`` (READ, WRITE, ALL).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.grant grafana salt READ
    """
    with salt_errors():
        _admin(connection).grant(name, database, privilege)
    return True


def revoke(name: str, database: str, **connection: Any) -> bool:
    """
    Remove every privilege of user ``name`` on ``database``.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.revoke grafana salt
    """
    with salt_errors():
        _admin(connection).revoke(name, database)
    return True


def is_duration(text: str) -> bool:
    """
    True when ``text`` is an InfluxQL duration (``365d``, ``52w1d``, ``8760h0m0s``, ``INF``):
    what a retention policy takes. The ``influxdb`` SLS checks its pillar with it.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals_influxdb.is_duration 52w
    """
    try:
        influxql_seconds(text)
    except ValueError:
        return False
    return True
