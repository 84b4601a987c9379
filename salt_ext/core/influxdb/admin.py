"""InfluxDB 1.x administration for the ``vitals_influxdb`` execution and state modules:
databases, retention policies, continuous queries, users, grants and passwords, read with
``SHOW ...`` and changed with the statements of :mod:`~salt_ext.core.influxdb.influxql`, through one
:class:`~salt_ext.core.influxdb.client.InfluxClient` authenticated as the admin.

Passwords travel only in a POST body or the ``Authorization`` header and never appear in an
exception text (the client scrubs any answer that echoes one). What the states change is
decided in :mod:`~salt_ext.core.influxdb.plans`.
"""

from collections.abc import Mapping
from typing import Any, Optional

from salt_ext.core.config import Option, parse
from salt_ext.core.influxdb import influxql
from salt_ext.core.influxdb.client import (
    AuthError,
    InfluxClient,
    InfluxError,
    check_connection,
    connection_options,
    endpoints,
)
from salt_ext.core.influxdb.plans import duration_argument, privilege_argument

# How the execution/state modules reach the server: a ``vitals_influxdb:`` dict in minion
# config or pillar, each key overridable per call. The statements run as ``admin_user``.
CONNECTION_KEY = "vitals_influxdb"
CREDENTIALS = "admin_"
CONNECTION_OPTIONS = {
    **connection_options(CREDENTIALS, token=False),
    "wait": Option("float", 30.0, minimum=0, doc="seconds to wait for /ping (a fresh start)"),
}


def connect(raw: Optional[Mapping[str, Any]]) -> "InfluxAdmin":
    """An :class:`InfluxAdmin` from a connection dict (see :data:`CONNECTION_OPTIONS`),
    waiting up to ``wait`` seconds for the server. Raises ConfigError naming the key."""
    opts = parse(CONNECTION_KEY, raw, CONNECTION_OPTIONS)
    (endpoint,) = endpoints(f"{CONNECTION_KEY}:url", [opts["url"]])
    check_connection(CONNECTION_KEY, opts, CREDENTIALS)
    client = InfluxClient.from_options(opts, CREDENTIALS, url=endpoint)
    if opts["wait"]:
        client.wait_ready(opts["wait"])
    return InfluxAdmin(client)


class InfluxAdmin:
    """InfluxQL statements against one InfluxDB 1.x server, through ``client``."""

    def __init__(self, client: InfluxClient) -> None:
        self.client = client
        self.label = client.label

    def query(self, statement: str, anonymous: bool = False) -> list[influxql.Result]:
        """Run InfluxQL as the admin or, ``anonymous``, without credentials; its results."""
        return (self.client.login() if anonymous else self.client).query(statement)

    def rows(self, statement: str) -> list[dict[str, Any]]:
        return influxql.rows(self.client.query(statement))

    # -- authentication ------------------------------------------------------------------------
    def authenticates(self, user: str, password: str) -> bool:
        """True if ``user``/``password`` is accepted (a ``SHOW DATABASES`` as that user);
        no password hash is ever read."""
        try:
            self.client.login(user, password or "").query(influxql.SHOW_DATABASES)
        except AuthError:
            return False
        return True

    def auth_required(self) -> bool:
        """True when the server refuses an anonymous ``SHOW DATABASES``."""
        try:
            self.query(influxql.SHOW_DATABASES, anonymous=True)
        except AuthError:
            return True
        except InfluxError as exc:
            # auth on and no user yet: "create admin user first or disable authentication"
            if "create admin user first" in str(exc):
                return True
            raise
        return False

    def bootstrap_admin(self, user: str, password: str) -> None:
        """Create the first admin on a server with auth on and no user yet (the only statement
        InfluxDB accepts anonymously then). Raises InfluxError when users already exist."""
        self.query(influxql.create_user_statement(user, password, admin=True), anonymous=True)

    # -- databases -----------------------------------------------------------------------------
    def databases(self) -> list[str]:
        return influxql.databases(self.rows(influxql.SHOW_DATABASES))

    def create_database(self, name: str) -> None:
        self.query(influxql.create_database_statement(name))

    def drop_database(self, name: str) -> None:
        self.query(influxql.drop_database_statement(name))

    # -- retention policies --------------------------------------------------------------------
    def retention_policies(self, database: str) -> dict[str, dict[str, Any]]:
        """``{name: {duration, shard_duration (seconds), replication, default}}``."""
        shown = self.rows(influxql.show_retention_policies_statement(database))
        return influxql.retention_policies(shown)

    def create_retention_policy(
        self,
        name: str,
        database: str,
        duration: object,
        replication: int = 1,
        shard_duration: object = None,
        default: bool = False,
    ) -> None:
        """Durations as InfluxQL text or seconds; none given (or ``INF``): keep forever."""
        self.query(
            influxql.retention_policy_statement(
                "CREATE",
                name,
                database,
                duration_argument("duration", duration) or 0,
                replication,
                duration_argument("shard_duration", shard_duration),
                default,
            )
        )

    def alter_retention_policy(
        self,
        name: str,
        database: str,
        duration: object = None,
        replication: Optional[int] = None,
        shard_duration: object = None,
        default: bool = False,
    ) -> None:
        """Changes what is given (durations as InfluxQL text or seconds)."""
        self.query(
            influxql.retention_policy_statement(
                "ALTER",
                name,
                database,
                duration_argument("duration", duration),
                replication,
                duration_argument("shard_duration", shard_duration),
                default,
            )
        )

    def drop_retention_policy(self, name: str, database: str) -> None:
        self.query(influxql.drop_retention_policy_statement(name, database))

    # -- continuous queries --------------------------------------------------------------------
    def continuous_queries(self, database: str) -> dict[str, str]:
        """``{name: query}`` of ``database``, each query as InfluxDB renders it."""
        shown = influxql.continuous_queries(self.client.query(influxql.SHOW_CONTINUOUS_QUERIES))
        return shown.get(database, {})

    def downsample(
        self, database: str, source: str, tier: str, every: object, start: int, end: int
    ) -> int:
        """Run a tier's statement once over ``start``..``end`` (Unix seconds, end excluded):
        what its continuous query would have written for those intervals, for points that
        arrived later than its ``late``. The number of points written."""
        seconds = duration_argument("every", every, optional=False) or 0
        statement = influxql.downsample_statement(database, source, tier, seconds, start, end)
        return sum(int(row.get("written") or 0) for row in influxql.rows(self.query(statement)))

    # -- users and grants ----------------------------------------------------------------------
    def users(self) -> dict[str, bool]:
        """``{name: is_admin}``."""
        return influxql.users(self.rows(influxql.SHOW_USERS))

    def create_user(self, name: str, password: str, admin: bool = False) -> None:
        self.query(influxql.create_user_statement(name, password, admin))

    def set_password(self, name: str, password: str) -> None:
        self.query(influxql.set_password_statement(name, password))

    def set_admin(self, name: str, admin: bool) -> None:
        self.query(influxql.set_admin_statement(name, admin))

    def drop_user(self, name: str) -> None:
        self.query(influxql.drop_user_statement(name))

    def grants(self, user: str) -> dict[str, str]:
        """``{database: READ|WRITE|ALL}`` of ``user`` (databases with no privilege left out)."""
        return influxql.grants(self.rows(influxql.show_grants_statement(user)))

    def grant(self, user: str, database: str, privilege: object) -> None:
        """Set ``user``'s privilege on ``database`` to exactly ``privilege``."""
        wanted = privilege_argument("privilege", privilege)
        self.query(influxql.grant_statement(user, database, wanted))

    def revoke(self, user: str, database: str) -> None:
        self.query(influxql.revoke_statement(user, database))
