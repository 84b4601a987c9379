"""The InfluxDB backend: options, HTTP transports, database creation and grain tags.

The bytes it sends come from :mod:`salt_ext.core.influxdb.line_protocol`; everything else (option
reading, samples, spool, failover, replay) is the shared core, so this module differs from the
carbon backend only in its serializer and transports. Imports Salt for one helper:
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
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import salt.utils.data

from salt_ext.core.config import Option, Options
from salt_ext.core.delivery.delivery import Transport
from salt_ext.core.delivery.returner import Backend
from salt_ext.core.errors import ConfigError, DeliveryError
from salt_ext.core.influxdb import line_protocol
from salt_ext.core.influxdb.admin import (
    AdminError,
    InfluxAdmin,
    create_database_statement,
    retention_policy_statement,
)
from salt_ext.core.net.http import HttpTransport, Response, parse_url
from salt_ext.core.samples import Sample

log = logging.getLogger(__name__)

PRECISION_PARAMS = {
    "v1": {"s": "s", "ms": "ms", "us": "u", "ns": "ns"},
    "v2": {"s": "s", "ms": "ms", "us": "us", "ns": "ns"},
    "v3": {"s": "second", "ms": "millisecond", "us": "microsecond", "ns": "nanosecond"},
}
WRITE_PATHS = {"v1": "/write", "v2": "/api/v2/write", "v3": "/api/v3/write_lp"}

_DURATION = re.compile(r"(?:\d+(?:ns|us|u|µs|µ|ms|s|m|h|d|w))+|INF|inf")


# -- database creation (api v1) ----------------------------------------------------------------
class DatabaseCreator:
    """``recover`` hook of the v1 transports: create what a write found missing (through
    :class:`~salt_ext.core.influxdb.admin.InfluxAdmin` over the same transport), then the
    transport sends the payload once more. Never used on the healthy path."""

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

    def __call__(self, transport: HttpTransport, response: Response) -> bool:
        message = response.message().lower()
        if response.status == 404 and "database not found" in message:
            missing, what = "database", f'database "{self.db}"'
        elif self.rp and "retention policy not found" in message:
            missing, what = "retention policy", f'retention policy "{self.rp}" of "{self.db}"'
        else:
            return False
        if not self.enabled:
            raise DeliveryError(
                f"{what} does not exist on {transport.label} (create_database is off)"
            )
        try:
            InfluxAdmin.through(transport).query("; ".join(self.statements(missing)))
        except AdminError as exc:
            raise DeliveryError(
                f"{what} does not exist on {transport.label} and creating it failed: {exc.problem}"
            ) from None
        log.info("influxdb: created %s on %s", what, transport.label)
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
        "url": Option("str", "http://127.0.0.1:8086", doc="base URL, http(s)://host[:port][/path]"),
        "urls": Option("list", [], doc="failover list of base URLs; overrides url"),
        "db": Option("str", "salt", doc="database (v1, v3)"),
        "rp": Option("str", "", doc="retention policy to write to (v1); default: the db's"),
        "user": Option("str", "", doc="v1 basic auth user"),
        "password": Option("str", "", secret=True, doc="v1 basic auth password"),
        "org": Option("str", "", doc="organization (v2)"),
        "bucket": Option("str", "", doc="bucket (v2)"),
        "token": Option("str", "", secret=True, doc="API token (v2, v3; v1 without user)"),
        "precision": Option(
            "str", "s", choices=tuple(line_protocol.PRECISIONS), doc="timestamp precision"
        ),
        "verify": Option("bool", True, doc="verify HTTPS certificates"),
        "ca_bundle": Option("str", "", doc="CA certificates file for HTTPS"),
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
        endpoints = []
        for url in opts["urls"] or [opts["url"]]:
            try:
                endpoints.append(parse_url(url))
            except ValueError as exc:
                raise ConfigError(key, f"expected http(s)://host[:port][/path]: {exc}") from None
        opts["endpoints"] = endpoints
        if api == "v2":
            for name in ("org", "bucket", "token"):
                if not opts[name]:
                    raise ConfigError(f"influxdb:{name}", "required with api v2")
        elif not opts["db"]:
            raise ConfigError("influxdb:db", f"required with api {api}")
        if opts["user"] and not opts["password"]:
            raise ConfigError("influxdb:password", "required when user is set")
        if opts["password"] and not opts["user"]:
            raise ConfigError("influxdb:user", "required when password is set")
        duration = opts["retention_duration"]
        if duration and not _DURATION.fullmatch(duration):
            raise ConfigError(
                "influxdb:retention_duration",
                f"expected an InfluxQL duration such as 90d, 52w or INF, got {duration!r}",
            )
        for tag, value in opts["tags"].items():
            if not tag or tag in ("host", "time") or tag.startswith("_"):
                raise ConfigError("influxdb:tags", f"tag key {tag!r} is reserved or empty")
            if not value:
                raise ConfigError("influxdb:tags", f"tag {tag!r} has an empty value")
        if opts["ca_bundle"] and not os.path.isfile(opts["ca_bundle"]):
            raise ConfigError("influxdb:ca_bundle", f"no such file: {opts['ca_bundle']!r}")
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
        headers, auth, recover = {}, None, None
        if api == "v1":
            params = {"db": opts["db"]}
            if opts["rp"]:
                params["rp"] = opts["rp"]
            params["precision"] = precision
            if opts["user"]:
                auth = (opts["user"], opts["password"])
            elif opts["token"]:
                headers["Authorization"] = f"Token {opts['token']}"
            recover = DatabaseCreator(opts)
        elif api == "v2":
            params = {"org": opts["org"], "bucket": opts["bucket"], "precision": precision}
            headers["Authorization"] = f"Token {opts['token']}"
        else:
            params = {"db": opts["db"], "precision": precision}
            if opts["token"]:
                headers["Authorization"] = f"Bearer {opts['token']}"
        return [
            HttpTransport(
                endpoint,
                WRITE_PATHS[api],
                params=params,
                headers=headers,
                auth=auth,
                timeout=opts["timeout"],
                verify=opts["verify"],
                ca_bundle=opts["ca_bundle"],
                gzip=opts["gzip"],
                recover=recover,
            )
            for endpoint in opts["endpoints"]
        ]


BACKEND = InfluxBackend()
