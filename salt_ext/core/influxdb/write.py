"""The InfluxDB backend: options, write clients, database creation and grain tags.

The bytes it sends come from :mod:`salt_ext.core.influxdb.line_protocol`, and they travel through
:class:`~salt_ext.core.influxdb.client.InfluxClient` (one per URL: the delivery core's
transports); everything else (option reading, samples, spool, failover, replay) is the shared
core, so this module differs from the carbon backend only in its serializer and transports.
Imports Salt for one helper:
``salt.utils.data.traverse_dict_and_list`` walks nested grains for ``grain_tags``.

APIs
----

``api: v1`` (default) POSTs to ``/write?db=&rp=&precision=`` with basic auth (``user`` /
``password``, or ``Authorization: Token`` when only ``token`` is set: InfluxDB 2/3's v1
compatibility); ``v2`` to ``/api/v2/write?org=&bucket=&precision=`` with ``Authorization:
Token``; ``v3`` to ``/api/v3/write_lp?db=&precision=`` with ``Authorization: Bearer``.

With v1, a write answered "database not found" (or "retention policy not found" for ``rp``)
runs ``CREATE DATABASE`` (``WITH DURATION ... REPLICATION ... NAME ...`` when
``retention_duration`` is set) and/or ``CREATE RETENTION POLICY`` through ``/query`` and sends
the payload once more; the healthy path never pays for it. ``create_database: false`` turns
that into an error (the points are spooled).

Spooled payloads are stored uncompressed, in one spool per precision
(``influxdb-<profile>-<precision>``), so changing ``precision`` never replays points at wrong
times; the old spool is replayed by jobs using the old precision.
"""

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Optional

import salt.utils.data

from salt_ext.core.config import Option, Options
from salt_ext.core.delivery.delivery import Transport
from salt_ext.core.delivery.returner import Backend
from salt_ext.core.durations import influxql_seconds
from salt_ext.core.errors import ConfigError, DeliveryError
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.influxdb.client import (
    InfluxClient,
    InfluxError,
    check_connection,
    connection_options,
    endpoints,
)
from salt_ext.core.influxdb.influxql import create_database_statement, retention_policy_statement
from salt_ext.core.net.http import Response
from salt_ext.core.samples import Sample

log = logging.getLogger(__name__)

PRECISION_PARAMS = {
    "v1": {"s": "s", "ms": "ms", "us": "u", "ns": "ns"},
    "v2": {"s": "s", "ms": "ms", "us": "us", "ns": "ns"},
    "v3": {"s": "second", "ms": "millisecond", "us": "microsecond", "ns": "nanosecond"},
}


# -- database creation (api v1) ----------------------------------------------------------------
class DatabaseCreator:
    """``recover`` hook of the v1 clients: create what a write found missing (InfluxQL through
    the same client, so with its credentials), then the client sends the payload once more.
    Never used on the healthy path."""

    def __init__(self, opts: Options) -> None:
        self.db = opts["db"]
        self.rp = opts["rp"]
        self.enabled = opts["create_database"]
        self.duration = opts["retention_duration"]
        self.name = opts["retention_name"] or self.rp or "vitals"
        self.replication = opts["retention_replication"]

    def statements(self, missing: str) -> list[str]:
        out = []
        if missing == "database":
            out.append(
                create_database_statement(self.db, self.duration, self.replication, self.name)
            )
        if self.rp and (missing == "retention policy" or not self.duration or self.rp != self.name):
            out.append(
                retention_policy_statement(
                    "CREATE", self.rp, self.db, self.duration or 0, self.replication
                )
            )
        return out

    def __call__(self, client: InfluxClient, response: Response) -> bool:
        message = response.message().lower()
        if response.status == 404 and "database not found" in message:
            missing, what = "database", f'database "{self.db}"'
        elif self.rp and "retention policy not found" in message:
            missing, what = "retention policy", f'retention policy "{self.rp}" of "{self.db}"'
        else:
            return False
        if not self.enabled:
            raise DeliveryError(f"{what} does not exist on {client.label} (create_database is off)")
        try:
            client.query(self.statements(missing))
        except InfluxError as exc:
            raise DeliveryError(
                f"{what} does not exist on {client.label} and creating it failed: {exc.problem}"
            ) from None
        log.info("influxdb: created %s on %s", what, client.label)
        return True


# -- the backend -------------------------------------------------------------------------------
def grain_tags(keys: Iterable[str], grains: Mapping[str, Any]) -> dict[str, str]:
    """``{tag: value}`` from grains: ``role`` or a nested ``rack:row`` (tag ``rack_row``).
    Missing grains and lists or dicts are left out (one debug line each)."""
    tags = {}
    for key in keys:
        value = salt.utils.data.traverse_dict_and_list(grains, key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value):
            tags[key.replace(":", "_")] = str(value)
        else:
            log.debug("influxdb returner: grain %r is missing or not a scalar, no tag", key)
    return tags


class InfluxBackend(Backend):
    """``--return influxdb``: InfluxDB line protocol over HTTP (1.x, 2.x, 3.x, VictoriaMetrics)."""

    name = "influxdb"
    options = {
        "api": Option("str", "v1", choices=("v1", "v2", "v3"), doc="write API"),
        **connection_options(timeout=False),  # the timeout is every returner's
        "urls": Option("list", [], doc="failover list of base URLs; overrides url"),
        "db": Option("str", "salt", doc="database (v1, v3)"),
        "rp": Option("str", "", doc="retention policy to write to (v1); default: the db's"),
        "org": Option("str", "", doc="organization (v2)"),
        "bucket": Option("str", "", doc="bucket (v2)"),
        "precision": Option(
            "str", "s", choices=tuple(line_protocol.PRECISIONS), doc="timestamp precision"
        ),
        "gzip": Option("bool", True, doc="gzip request bodies"),
        "tags": Option("dict", {}, doc="extra tags for every point, e.g. {role: web}"),
        "grain_tags": Option("list", [], doc="grains added as tags, e.g. [role, 'rack:row']"),
        "create_database": Option("bool", True, doc="v1: create a missing db / rp"),
        "retention_duration": Option("str", "", doc="v1: duration of the created policy"),
        "retention_name": Option("str", "", doc="v1: name of that policy; default rp or vitals"),
        "retention_replication": Option(
            "int", 1, minimum=1, doc="v1: replication factor of that policy"
        ),
    }

    def validate(self, opts: Options) -> Options:
        api = opts["api"]
        key = "influxdb:urls" if opts["urls"] else "influxdb:url"
        opts["endpoints"] = endpoints(key, opts["urls"] or [opts["url"]])
        if api == "v2":
            for name in ("org", "bucket", "token"):
                if not opts[name]:
                    raise ConfigError(f"influxdb:{name}", "required with api v2")
        elif not opts["db"]:
            raise ConfigError("influxdb:db", f"required with api {api}")
        check_connection("influxdb", opts)
        if opts["retention_duration"]:
            try:
                influxql_seconds(opts["retention_duration"])
            except ValueError as exc:
                raise ConfigError("influxdb:retention_duration", str(exc)) from None
        for tag, value in opts["tags"].items():
            if not tag or tag in ("host", "time") or tag.startswith("_"):
                raise ConfigError("influxdb:tags", f"tag key {tag!r} is reserved or empty")
            if not value:
                raise ConfigError("influxdb:tags", f"tag {tag!r} has an empty value")
        return opts

    def with_minion(self, opts: Options, minion_opts: Mapping[str, Any]) -> Options:
        found = grain_tags(opts["grain_tags"], minion_opts.get("grains") or {})
        opts["tags"] = {**found, **opts["tags"]}  # explicit tags win
        return opts

    def spool_key(self, opts: Options) -> str:
        return str(opts["precision"])

    def serialize(self, samples: list[Sample], minion: str, opts: Options) -> bytes:
        return line_protocol.serialize(samples, minion, opts["precision"], opts["tags"])

    def transports(self, opts: Options) -> list[Transport]:
        api = opts["api"]
        precision = PRECISION_PARAMS[api][opts["precision"]]
        recover: Optional[DatabaseCreator] = None
        if api == "v1":
            params = {"db": opts["db"]}
            if opts["rp"]:
                params["rp"] = opts["rp"]
            params["precision"] = precision
            recover = DatabaseCreator(opts)
        elif api == "v2":
            params = {"org": opts["org"], "bucket": opts["bucket"], "precision": precision}
        else:
            params = {"db": opts["db"], "precision": precision}
        return [
            InfluxClient.from_options(
                opts,
                url=endpoint,
                api=api,
                write_params=params,
                gzip=opts["gzip"],
                recover=recover,
            )
            for endpoint in opts["endpoints"]
        ]


BACKEND = InfluxBackend()
