"""InfluxQL, written once: identifiers, string literals, durations, the statements salt-vitals
sends (databases, retention policies, continuous queries, users, grants) and the reading of
``/query`` answers.

Every identifier goes through :func:`influxql_ident` and every string literal through
:func:`influxql_string`, so no name or password can end a quote. Durations are InfluxQL's form of
the one grammar in :mod:`salt_ext.core.durations`; they compare normalised (``365d``, ``52w1d``
and InfluxDB's own ``8760h0m0s`` are the same number of seconds; ``INF`` and ``0s`` are 0,
"keep forever").
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

from salt_ext.core.durations import influxql_seconds

Result = dict[str, Any]
"""One statement's part of a ``/query`` answer: ``{"statement_id", "series": [...]}``."""

PRIVILEGES = ("READ", "WRITE", "ALL")
# SHOW GRANTS spells them out; GRANT takes the short form
_SHOWN_PRIVILEGES: dict[str, Optional[str]] = {
    "READ": "READ",
    "WRITE": "WRITE",
    "ALL PRIVILEGES": "ALL",
    "ALL": "ALL",
    "NO PRIVILEGES": None,
}


# -- literals ----------------------------------------------------------------------------------
def influxql_ident(name: object) -> str:
    """A double-quoted InfluxQL identifier."""
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def influxql_string(value: object) -> str:
    """A single-quoted InfluxQL string literal (tag values, passwords)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def format_duration(seconds: Optional[int]) -> str:
    """InfluxDB's own spelling: ``8760h0m0s``; ``INF`` for 0."""
    if not seconds:
        return "INF"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


def group_duration(seconds: int) -> str:
    """A duration as InfluxDB renders one in a query (its ``FormatDuration``): the largest unit
    that divides it, ``1m``, ``10m``, ``1h``, ``30d``, ``4w`` (``60s`` is ``1m``)."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{int(seconds)}s"


def duration_literal(duration: Union[int, str]) -> str:
    """A duration for a statement: seconds as InfluxDB spells them (``8760h0m0s``, ``INF``
    for 0), or InfluxQL text such as ``365d`` as given (checked; ValueError else; the ``0``
    the grammar takes for forever as ``INF``)."""
    if isinstance(duration, str):
        influxql_seconds(duration)
        text = duration.strip()
        return "INF" if text == "0" else text
    return format_duration(duration)


def check_privilege(privilege: object) -> str:
    """``read``/``WRITE``/``all privileges`` -> ``READ``/``WRITE``/``ALL``; ValueError else."""
    text = " ".join(str(privilege).upper().split())
    found = _SHOWN_PRIVILEGES.get(text)
    if found not in PRIVILEGES:
        raise ValueError(f"expected READ, WRITE or ALL, got {privilege!r}")
    return found


# -- statements --------------------------------------------------------------------------------
SHOW_DATABASES = "SHOW DATABASES"
SHOW_USERS = "SHOW USERS"


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


def drop_database_statement(name: str) -> str:
    return f"DROP DATABASE {influxql_ident(name)}"


def show_retention_policies_statement(database: str) -> str:
    return f"SHOW RETENTION POLICIES ON {influxql_ident(database)}"


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


def drop_retention_policy_statement(name: str, database: str) -> str:
    return f"DROP RETENTION POLICY {influxql_ident(name)} ON {influxql_ident(database)}"


SHOW_CONTINUOUS_QUERIES = "SHOW CONTINUOUS QUERIES"


def downsample_statement(
    database: str,
    source: str,
    tier: str,
    every: int,
    start: Optional[int] = None,
    end: Optional[int] = None,
) -> str:
    """What feeds downsampling tier ``tier`` from retention policy ``source``: the mean and
    the max of every numeric field of every measurement per ``every`` seconds and tag set,
    written as ``mean_<field>``, ``max_<field>`` to the same measurement and tags in ``tier``.
    The body of the tier's continuous query; with ``start``/``end`` (Unix seconds, end
    excluded) the same statement run once over a past interval (a backfill)."""
    where = ""
    if start is not None and end is not None:
        where = f" WHERE time >= {int(start)}s AND time < {int(end)}s"
    return (
        f"SELECT mean(*), max(*) INTO {influxql_ident(database)}.{influxql_ident(tier)}"
        f".:MEASUREMENT {downsample_source(database, source)}{where}"
        f" GROUP BY time({group_duration(every)}), *"
    )


def downsample_source(database: str, source: str) -> str:
    """The FROM clause of every tier's statement: all measurements of policy ``source``."""
    return f"FROM {influxql_ident(database)}.{influxql_ident(source)}./.*/"


def create_continuous_query_statement(
    name: str, database: str, select: str, resample_for: Optional[int] = None
) -> str:
    """``CREATE CONTINUOUS QUERY`` running ``select`` once per GROUP BY interval, over the
    last ``resample_for`` seconds (InfluxDB's default: the last interval only)."""
    resample = f" RESAMPLE FOR {group_duration(resample_for)}" if resample_for else ""
    return (
        f"CREATE CONTINUOUS QUERY {influxql_ident(name)} ON {influxql_ident(database)}"
        f"{resample} BEGIN {select} END"
    )


def drop_continuous_query_statement(name: str, database: str) -> str:
    return f"DROP CONTINUOUS QUERY {influxql_ident(name)} ON {influxql_ident(database)}"


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _plain(quoted: "re.Match[str]") -> str:
    inner = quoted.group()[1:-1]
    return inner if _PLAIN.fullmatch(inner) else quoted.group()


def normalise_query(text: str) -> str:
    """A continuous query's text as compared: InfluxDB shows its own rendering (identifiers
    unquoted where they need no quotes, one space between words), so both sides lose the quotes
    around plain identifiers and runs of white space. Durations are written as InfluxDB renders
    them (:func:`group_duration`), so they compare as text."""
    return " ".join(_QUOTED.sub(_plain, text).split())


def create_user_statement(name: str, password: str, admin: bool = False) -> str:
    statement = f"CREATE USER {influxql_ident(name)} WITH PASSWORD {influxql_string(password)}"
    return statement + (" WITH ALL PRIVILEGES" if admin else "")


def set_password_statement(name: str, password: str) -> str:
    return f"SET PASSWORD FOR {influxql_ident(name)} = {influxql_string(password)}"


def set_admin_statement(name: str, admin: bool) -> str:
    """Grant (``admin``) or revoke all cluster privileges."""
    if admin:
        return f"GRANT ALL PRIVILEGES TO {influxql_ident(name)}"
    return f"REVOKE ALL PRIVILEGES FROM {influxql_ident(name)}"


def drop_user_statement(name: str) -> str:
    return f"DROP USER {influxql_ident(name)}"


def show_grants_statement(user: str) -> str:
    return f"SHOW GRANTS FOR {influxql_ident(user)}"


def grant_statement(user: str, database: str, privilege: str) -> str:
    """Set ``user``'s privilege on ``database`` to exactly ``privilege`` (ValueError for one
    that is not READ, WRITE or ALL)."""
    privilege = check_privilege(privilege)
    return f"GRANT {privilege} ON {influxql_ident(database)} TO {influxql_ident(user)}"


def revoke_statement(user: str, database: str) -> str:
    return f"REVOKE ALL ON {influxql_ident(database)} FROM {influxql_ident(user)}"


def verb(statements: Union[str, Sequence[str]]) -> str:
    """How an error names a statement: its leading keywords (``CREATE DATABASE``, ``SELECT``),
    never its arguments (which may hold a password)."""
    first = statements if isinstance(statements, str) else (statements[0] if statements else "")
    words = first.split()[:2]
    if len(words) == 2 and not (words[1].isalpha() and words[1].isupper()):
        words = words[:1]
    return " ".join(words) or "query"


# -- answers -----------------------------------------------------------------------------------
def parse_results(body: bytes) -> list[Result]:
    """The ``results`` of a ``/query`` answer, one per statement; ValueError when the body is
    not InfluxDB's JSON."""
    try:
        results = json.loads(body.decode("utf-8", "replace"))["results"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("the answer is not InfluxQL results") from None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise ValueError("the answer is not InfluxQL results")
    return results


def errors(results: Sequence[Result]) -> list[str]:
    """The statements' own errors (``database not found``, ``user already exists``, ...)."""
    return [str(r["error"]) for r in results if r.get("error")]


def series(result: Result) -> list[dict[str, Any]]:
    """The series of one statement's result (none for an empty answer)."""
    return list(result.get("series") or [])


def rows(results: Sequence[Result]) -> list[dict[str, Any]]:
    """``SHOW ...`` rows as dicts (column -> value), over every result and series."""
    out: list[dict[str, Any]] = []
    for result in results:
        for one in series(result):
            columns = one.get("columns") or []
            out.extend(dict(zip(columns, row)) for row in one.get("values") or [])
    return out


def databases(shown: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names from the rows of ``SHOW DATABASES``."""
    return [row["name"] for row in shown]


def retention_policies(shown: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{name: {duration, shard_duration (seconds), replication, default}}`` from the rows of
    ``SHOW RETENTION POLICIES``."""
    return {
        row["name"]: {
            "duration": influxql_seconds(row["duration"]),
            "shard_duration": influxql_seconds(row.get("shardGroupDuration") or "0s"),
            "replication": int(row.get("replicaN") or 1),
            "default": bool(row.get("default")),
        }
        for row in shown
    }


def continuous_queries(results: Sequence[Result]) -> dict[str, dict[str, str]]:
    """``{database: {name: query}}`` from the answer to ``SHOW CONTINUOUS QUERIES`` (one series
    per database, InfluxDB's own rendering of each query)."""
    out: dict[str, dict[str, str]] = {}
    for result in results:
        for one in series(result):
            columns = one.get("columns") or []
            shown = [dict(zip(columns, row)) for row in one.get("values") or []]
            out.setdefault(one.get("name", ""), {}).update(
                {row["name"]: row["query"] for row in shown}
            )
    return out


def _downsampling_pattern() -> "re.Pattern[str]":
    """What InfluxDB shows of a :func:`downsample_statement`, its names and interval as groups
    (the statement's shape is written there only)."""
    shape = re.escape(normalise_query(downsample_statement("DB_", "SOURCE_", "TIER_", 7)))
    ident = rf"(?:{_QUOTED.pattern}|{_PLAIN.pattern})"
    for placeholder, group in (
        ("DB_", f"(?P<db>{ident})"),
        ("SOURCE_", f"(?P<source>{ident})"),
        ("TIER_", f"(?P<tier>{ident})"),
        ("time\\(7s\\)", "time\\((?P<every>\\w+)\\)"),
    ):
        shape = shape.replace(placeholder, group, 1)
    return re.compile(shape.replace("DB_", "(?P=db)"))


_DOWNSAMPLING = _downsampling_pattern()


def _unquote(ident: str) -> str:
    if not ident.startswith('"'):
        return ident
    return re.sub(r"\\(.)", r"\1", ident[1:-1])


def downsampling_tiers(queries: Mapping[str, str], database: str) -> dict[str, tuple[str, int]]:
    """``{tier: (source policy, every seconds)}`` of the continuous queries of ``database``
    (``{name: query}``, InfluxDB's rendering) that :func:`downsample_statement` wrote; the
    others are not tiers."""
    out = {}
    for query in queries.values():
        found = _DOWNSAMPLING.search(normalise_query(query))
        if not found or _unquote(found["db"]) != database:
            continue
        try:
            every = influxql_seconds(found["every"])
        except ValueError:
            continue
        out[_unquote(found["tier"])] = (_unquote(found["source"]), every)
    return out


def users(shown: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """``{name: is_admin}`` from the rows of ``SHOW USERS``."""
    return {row["user"]: bool(row["admin"]) for row in shown}


def grants(shown: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{database: READ|WRITE|ALL}`` from the rows of ``SHOW GRANTS`` (databases with no
    privilege left out)."""
    out = {}
    for row in shown:
        privilege = _SHOWN_PRIVILEGES.get(str(row.get("privilege")).upper())
        if privilege:
            out[row["database"]] = privilege
    return out
