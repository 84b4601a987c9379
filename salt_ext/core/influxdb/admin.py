"""InfluxDB 1.x administration in InfluxQL over the HTTP transport of :mod:`salt_ext.core.net.http`.

What the ``vitals_influxdb`` execution and state modules need: databases, retention policies,
users, grants and passwords, read with ``SHOW ...`` and changed with ``CREATE``/``ALTER``/
``DROP``/``GRANT``/``SET PASSWORD``. Every identifier goes through :func:`influxql_ident` and
every string literal through :func:`influxql_string`; passwords travel only in a POST body or
the ``Authorization`` header and never appear in an exception text (the transport scrubs any
answer that echoes one).

Durations are compared normalised: ``365d``, ``52w1d`` and InfluxDB's ``8760h0m0s`` are the same
number of seconds, and ``INF``/``0s`` mean "keep forever" (0).
"""

import json
import re
import time
from collections.abc import Mapping
from typing import Any, Optional, Union
from urllib.parse import urlencode

from salt_ext.core.config import Option, parse
from salt_ext.core.errors import ConfigError, DeliveryError, VitalsError
from salt_ext.core.net.http import Endpoint, HttpTransport, parse_url

# How the execution/state modules reach the server: a ``vitals_influxdb:`` dict in minion
# config or pillar, each key overridable per call.
CONNECTION_OPTIONS = {
    "url": Option("str", "http://127.0.0.1:8086", doc="base URL, http(s)://host[:port]"),
    "admin_user": Option("str", "", doc="user the statements run as; empty: no auth"),
    "admin_password": Option("str", "", secret=True, doc="that user's password"),
    "timeout": Option("float", 10.0, minimum=0.1, doc="seconds per request"),
    "verify": Option("bool", True, doc="verify HTTPS certificates"),
    "ca_bundle": Option("str", "", doc="CA certificates file for HTTPS"),
    "wait": Option("float", 30.0, minimum=0, doc="seconds to wait for /ping (a fresh start)"),
}

PRIVILEGES = ("READ", "WRITE", "ALL")
# SHOW GRANTS spells them out; GRANT takes the short form
_SHOWN_PRIVILEGES: dict[str, Optional[str]] = {
    "READ": "READ",
    "WRITE": "WRITE",
    "ALL PRIVILEGES": "ALL",
    "ALL": "ALL",
    "NO PRIVILEGES": None,
}
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "u": 1e-6,
    "µs": 1e-6,
    "µ": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
}
_DURATION_PART = re.compile(r"(\d+)(ns|us|u|µs|µ|ms|s|m|h|d|w)")


class AdminError(VitalsError):
    """An InfluxQL statement failed, or the server could not be reached. ``problem`` is the
    server's (or the network's) own words, secrets scrubbed, for callers that word the
    message themselves."""

    def __init__(self, message: str, problem: str = "") -> None:
        super().__init__(message)
        self.problem = problem or message


class AuthError(AdminError):
    """The server refused the credentials (HTTP 401/403)."""


def influxql_ident(name: object) -> str:
    """A double-quoted InfluxQL identifier."""
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def influxql_string(value: object) -> str:
    """A single-quoted InfluxQL string literal (passwords)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def duration_seconds(text: object) -> int:
    """Seconds of an InfluxQL duration (``365d``, ``8760h0m0s``, ``1h30m``); 0 for ``INF``.

    Raises ValueError for anything else.
    """
    text = str(text).strip()
    if text.upper() == "INF" or text == "0":
        return 0
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"expected an InfluxQL duration such as 365d, 52w or INF, got {text!r}")
    return int(total)


def format_duration(seconds: Optional[int]) -> str:
    """InfluxDB's own spelling: ``8760h0m0s``; ``INF`` for 0."""
    if not seconds:
        return "INF"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


def duration_literal(duration: Union[int, str]) -> str:
    """A duration for a statement: seconds as InfluxDB spells them (``8760h0m0s``, ``INF``
    for 0), or InfluxQL text such as ``365d`` as given (checked; ValueError else)."""
    if isinstance(duration, str):
        duration_seconds(duration)
        return duration.strip()
    return format_duration(duration)


def create_database_statement(
    name: str,
    duration: Union[int, str, None] = None,
    replication: int = 1,
    policy: str = "",
) -> str:
    """``CREATE DATABASE``, with its default retention policy ``policy`` when ``duration`` is
    given (``WITH DURATION ... REPLICATION ... NAME ...``)."""
    statement = f"CREATE DATABASE {influxql_ident(name)}"
    if duration:
        statement += (
            f" WITH DURATION {duration_literal(duration)} REPLICATION {int(replication)}"
            f" NAME {influxql_ident(policy or 'autogen')}"
        )
    return statement


def retention_policy_statement(
    verb: str,
    name: str,
    database: str,
    duration: Union[int, str, None] = None,
    replication: Optional[int] = None,
    shard_duration: Union[int, str, None] = None,
    default: bool = False,
) -> str:
    """``CREATE`` or ``ALTER RETENTION POLICY`` with the clauses given (durations as in
    :func:`duration_literal`; 0 or ``INF``: keep forever)."""
    clauses = [f"{verb} RETENTION POLICY {influxql_ident(name)} ON {influxql_ident(database)}"]
    if duration is not None:
        clauses.append(f"DURATION {duration_literal(duration)}")
    if replication is not None:
        clauses.append(f"REPLICATION {int(replication)}")
    if shard_duration:
        clauses.append(f"SHARD DURATION {duration_literal(shard_duration)}")
    if default:
        clauses.append("DEFAULT")
    return " ".join(clauses)


def connect(raw: Optional[Mapping[str, Any]]) -> "InfluxAdmin":
    """An :class:`InfluxAdmin` from a connection dict (see :data:`CONNECTION_OPTIONS`),
    waiting up to ``wait`` seconds for the server. Raises ConfigError naming the key."""
    opts = parse("vitals_influxdb", raw, CONNECTION_OPTIONS)
    try:
        parse_url(opts["url"])
    except ValueError as exc:
        raise ConfigError("vitals_influxdb:url", str(exc)) from None
    if opts["admin_user"] and not opts["admin_password"]:
        raise ConfigError("vitals_influxdb:admin_password", "required when admin_user is set")
    admin = InfluxAdmin(
        opts["url"],
        opts["admin_user"],
        opts["admin_password"],
        timeout=opts["timeout"],
        verify=opts["verify"],
        ca_bundle=opts["ca_bundle"],
    )
    if opts["wait"]:
        admin.wait_ready(opts["wait"])
    return admin


class InfluxAdmin:
    """InfluxQL statements against one InfluxDB 1.x server, authenticated as ``user``."""

    def __init__(
        self,
        url: Union[str, Endpoint],
        user: str = "",
        password: str = "",
        timeout: float = 10.0,
        verify: bool = True,
        ca_bundle: str = "",
    ) -> None:
        self.url = url
        self.user = user
        self.timeout = timeout
        self.verify = verify
        self.ca_bundle = ca_bundle
        auth = (user, password or "") if user else None
        self.transport = self._transport(auth)
        self.label = self.transport.label

    @classmethod
    def through(cls, transport: HttpTransport) -> "InfluxAdmin":
        """Statements sent through an existing transport, with its credentials (basic auth or
        token) and TLS settings: the influxdb returner's recovery path."""
        admin = cls(
            transport.endpoint,
            timeout=transport.timeout,
            verify=transport.verify,
            ca_bundle=transport.ca_bundle or "",
        )
        admin.transport = transport
        return admin

    def _transport(self, auth: Optional[tuple[str, str]]) -> HttpTransport:
        return HttpTransport(
            self.url,
            "/query",
            auth=auth,
            timeout=self.timeout,
            verify=self.verify,
            ca_bundle=self.ca_bundle,
            gzip=False,
        )

    # -- transport -----------------------------------------------------------------------------
    def ping(self) -> bool:
        """True when the server answers ``/ping``."""
        try:
            return self.transport.request("GET", "/ping").status == 204
        except DeliveryError:
            return False

    def wait_ready(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for ``/ping``; raise AdminError if it never answers."""
        deadline = time.monotonic() + timeout
        while not self.ping():
            if time.monotonic() >= deadline:
                raise AdminError(f"InfluxDB at {self.label} does not answer /ping")
            time.sleep(0.5)

    def query(
        self, statement: str, as_user: Optional[tuple[str, str]] = None, anonymous: bool = False
    ) -> list[dict[str, Any]]:
        """Run one InfluxQL statement (POST /query) as the admin, as ``as_user`` or without
        credentials; its result dicts, or raise."""
        if anonymous or as_user:
            transport = self._transport(as_user)
            who = f"user {as_user[0]!r}" if as_user else "anonymous access"
        else:
            transport = self.transport
            who = f"user {self.user!r}" if self.user else "anonymous access"
        body = urlencode({"q": statement}).encode("utf-8")
        try:
            answer = transport.request(
                "POST", "/query", body, content_type="application/x-www-form-urlencoded"
            )
        except DeliveryError as exc:
            raise AdminError(str(exc)) from None
        verb = " ".join(statement.split()[:2])
        problem = f"HTTP {answer.status}: {transport.quote(answer.message())}"
        if answer.status in (401, 403):
            raise AuthError(f"InfluxDB at {self.label} refused {who}: {problem}", problem)
        if not answer.ok:
            raise AdminError(f"{verb} on {self.label}: {problem}", problem)
        try:
            results = json.loads(answer.body.decode("utf-8", "replace")).get("results") or []
        except (ValueError, AttributeError):
            raise AdminError(f"{verb} on {self.label}: answer is not InfluxDB JSON") from None
        errors = [r["error"] for r in results if isinstance(r, dict) and r.get("error")]
        if errors:
            problem = transport.quote("; ".join(errors))
            raise AdminError(f"{verb} on {self.label}: {problem}", problem)
        return results

    def rows(self, statement: str) -> list[dict[str, Any]]:
        """``SHOW ...`` rows as dicts (column -> value), over every series."""
        out: list[dict[str, Any]] = []
        for result in self.query(statement):
            for series in result.get("series") or []:
                columns = series.get("columns") or []
                out.extend(dict(zip(columns, row)) for row in series.get("values") or [])
        return out

    # -- authentication ------------------------------------------------------------------------
    def authenticates(self, user: str, password: str) -> bool:
        """True if ``user``/``password`` is accepted (a ``SHOW DATABASES`` as that user);
        no password hash is ever read."""
        try:
            self.query("SHOW DATABASES", as_user=(user, password or ""))
        except AuthError:
            return False
        return True

    def auth_required(self) -> bool:
        """True when the server refuses an anonymous ``SHOW DATABASES``."""
        try:
            self.query("SHOW DATABASES", anonymous=True)
        except AuthError:
            return True
        except AdminError as exc:
            # auth on and no user yet: "create admin user first or disable authentication"
            if "create admin user first" in str(exc):
                return True
            raise
        return False

    def bootstrap_admin(self, user: str, password: str) -> None:
        """Create the first admin on a server with auth on and no user yet (the only statement
        InfluxDB accepts anonymously then). Raises AdminError when users already exist."""
        self.query(
            f"CREATE USER {influxql_ident(user)} WITH PASSWORD {influxql_string(password)}"
            " WITH ALL PRIVILEGES",
            anonymous=True,
        )

    # -- databases -----------------------------------------------------------------------------
    def databases(self) -> list[str]:
        return [row["name"] for row in self.rows("SHOW DATABASES")]

    def create_database(self, name: str) -> None:
        self.query(create_database_statement(name))

    def drop_database(self, name: str) -> None:
        self.query(f"DROP DATABASE {influxql_ident(name)}")

    # -- retention policies --------------------------------------------------------------------
    def retention_policies(self, database: str) -> dict[str, dict[str, Any]]:
        """``{name: {duration, shard_duration (seconds), replication, default}}``."""
        out = {}
        for row in self.rows(f"SHOW RETENTION POLICIES ON {influxql_ident(database)}"):
            out[row["name"]] = {
                "duration": duration_seconds(row["duration"]),
                "shard_duration": duration_seconds(row.get("shardGroupDuration") or "0s"),
                "replication": int(row.get("replicaN") or 1),
                "default": bool(row.get("default")),
            }
        return out

    def create_retention_policy(
        self,
        name: str,
        database: str,
        duration: int,
        replication: int = 1,
        shard_duration: Optional[int] = None,
        default: bool = False,
    ) -> None:
        self.query(
            retention_policy_statement(
                "CREATE", name, database, duration, replication, shard_duration, default
            )
        )

    def alter_retention_policy(
        self,
        name: str,
        database: str,
        duration: Optional[int] = None,
        replication: Optional[int] = None,
        shard_duration: Optional[int] = None,
        default: bool = False,
    ) -> None:
        self.query(
            retention_policy_statement(
                "ALTER", name, database, duration, replication, shard_duration, default
            )
        )

    def drop_retention_policy(self, name: str, database: str) -> None:
        self.query(f"DROP RETENTION POLICY {influxql_ident(name)} ON {influxql_ident(database)}")

    # -- users and grants ----------------------------------------------------------------------
    def users(self) -> dict[str, bool]:
        """``{name: is_admin}``."""
        return {row["user"]: bool(row["admin"]) for row in self.rows("SHOW USERS")}

    def create_user(self, name: str, password: str, admin: bool = False) -> None:
        statement = f"CREATE USER {influxql_ident(name)} WITH PASSWORD {influxql_string(password)}"
        self.query(statement + (" WITH ALL PRIVILEGES" if admin else ""))

    def set_password(self, name: str, password: str) -> None:
        self.query(f"SET PASSWORD FOR {influxql_ident(name)} = {influxql_string(password)}")

    def set_admin(self, name: str, admin: bool) -> None:
        if admin:
            self.query(f"GRANT ALL PRIVILEGES TO {influxql_ident(name)}")
        else:
            self.query(f"REVOKE ALL PRIVILEGES FROM {influxql_ident(name)}")

    def drop_user(self, name: str) -> None:
        self.query(f"DROP USER {influxql_ident(name)}")

    def grants(self, user: str) -> dict[str, str]:
        """``{database: READ|WRITE|ALL}`` of ``user`` (databases with no privilege left out)."""
        out = {}
        for row in self.rows(f"SHOW GRANTS FOR {influxql_ident(user)}"):
            privilege = _SHOWN_PRIVILEGES.get(str(row.get("privilege")).upper())
            if privilege:
                out[row["database"]] = privilege
        return out

    def grant(self, user: str, database: str, privilege: str) -> None:
        """Set ``user``'s privilege on ``database`` to exactly ``privilege``."""
        privilege = check_privilege(privilege)
        self.query(f"GRANT {privilege} ON {influxql_ident(database)} TO {influxql_ident(user)}")

    def revoke(self, user: str, database: str) -> None:
        self.query(f"REVOKE ALL ON {influxql_ident(database)} FROM {influxql_ident(user)}")


def check_privilege(privilege: object) -> str:
    """``read``/``WRITE``/``all privileges`` -> ``READ``/``WRITE``/``ALL``; ValueError else."""
    text = " ".join(str(privilege).upper().split())
    found = _SHOWN_PRIVILEGES.get(text)
    if found not in PRIVILEGES:
        raise ValueError(f"expected READ, WRITE or ALL, got {privilege!r}")
    return found
