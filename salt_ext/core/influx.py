r"""The InfluxDB backend: a pure line-protocol serializer, the options and the HTTP transports.

Everything else (option reading, samples, spool, failover, replay) is the shared core; this
module differs from the carbon backend only in the serializer and the transport.

Data model
----------

One line per (measurement, tag set, timestamp) with all of its fields, so a ``vitals.current``
return of ~200 values is a few dozen lines::

    disk,host=pi-01,path=/boot free=1234i,percent=41.2,total=5678i,used=4444i 1732240000

* measurement: ``sample.group`` (``cpu``, ``mem``, ``disk``, ... or the function name, e.g.
  ``status.loadavg``, for generic returns);
* tags: ``host`` = the minion id (always), the sample's own tags (``cpu``, ``path``, ``device``,
  ``interface``, ``sensor``) and the ``tags`` option; on a key clash ``host`` wins over the
  sample's tags, which win over configured tags. Tag keys are sorted (InfluxDB's advice);
* field key: ``".".join(sample.name)``; integers are written ``123i``, floats as Python's
  ``repr`` (always with ``.`` or an exponent: ``1.0``, ``1e+16``) so a field never changes type.
  Non-finite or out-of-int64 values are dropped with a debug line (samples never hold them);
* timestamp: the collection time ``sample.ts`` truncated to ``precision`` (``s`` by default;
  ``ms``, ``us``, ``ns``), which is sent as the matching ``precision=`` query parameter.

Names and escaping
------------------

InfluxDB 1.x/2.x (Go), VictoriaMetrics and InfluxDB 3 (Rust) agree on how ``\,``, ``\=``,
``\ `` and a backslash before an ordinary character read back, but not on ``\\`` (1.x/2.x keep
both backslashes, VictoriaMetrics and 3.x read one) and a trailing backslash escapes the
delimiter after it in all of them (the "trailing backslash trap": ``C:\`` would swallow the
next tag or the fields). So every measurement, tag key, tag value and field key is written by
these rules, which make it read back the same everywhere:

1. lone surrogates (from undecodable bytes) become U+FFFD; any other Unicode is kept as is;
2. control characters (U+0000-U+001F, including newline, CR and tab, and U+007F) cannot be
   written in line protocol and become a space;
3. a backslash followed by an ordinary character is kept as is (``C:\Users`` stays). If any
   backslash of a name ends it or precedes ``\``, ``,``, ``=``, a space or ``"``, *all*
   backslashes of that name become ``/`` (``C:\`` reads back as ``C:/``, ``\\srv\share`` as
   ``//srv/share``);
4. escaping: measurement ``,`` and space; tag keys, tag values and field keys ``,``, ``=`` and
   space; field keys also ``"`` (as InfluxDB's own client does: an unescaped quote in a field
   key breaks VictoriaMetrics' parser; InfluxDB reads ``\"`` back as ``"``, VictoriaMetrics
   keeps the backslash);
5. an empty measurement or field key becomes ``_``; a measurement starting with ``#`` (a
   comment line) gets a ``_`` prefix; the tag or field key ``time`` (rejected by InfluxDB)
   becomes ``time_``;
6. a tag whose value is empty is left out (line protocol has no empty tag values).

:func:`measurement_name`, :func:`key_name` and :func:`tag_value` return what a name reads back
as. Names never need quoting beyond this: no value can add a line, a tag or a field.

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

import json
import logging
import math
import os
import re
from functools import lru_cache
from urllib.parse import urlencode

import salt.utils.data

from salt_ext.core.config import Option
from salt_ext.core.errors import ConfigError, DeliveryError
from salt_ext.core.http import HttpTransport, parse_url
from salt_ext.core.returner import Backend
from salt_ext.core.samples import INT64_MAX, INT64_MIN

log = logging.getLogger(__name__)

PRECISIONS = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
PRECISION_PARAMS = {
    "v1": {"s": "s", "ms": "ms", "us": "u", "ns": "ns"},
    "v2": {"s": "s", "ms": "ms", "us": "us", "ns": "ns"},
    "v3": {"s": "second", "ms": "millisecond", "us": "microsecond", "ns": "nanosecond"},
}
WRITE_PATHS = {"v1": "/write", "v2": "/api/v2/write", "v3": "/api/v3/write_lp"}

RESERVED_KEYS = {"time": "time_"}

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x1f\x7f]")
_AMBIGUOUS_BACKSLASH = re.compile(r'\\(?:[\\,= "]|\Z)')
_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})
_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_FIELD_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", '"': '\\"'})
_DURATION = re.compile(r"(?:\d+(?:ns|us|u|µs|µ|ms|s|m|h|d|w))+|INF|inf")


# -- names -------------------------------------------------------------------------------------
def clean(text):
    """Rules 1-3 of the module docstring: ``text`` as it will read back, before escaping."""
    text = text if type(text) is str else str(text)
    if not text.isascii():
        text = _SURROGATES.sub("\ufffd", text)
    text = _CONTROLS.sub(" ", text)
    if "\\" in text and _AMBIGUOUS_BACKSLASH.search(text):
        text = text.replace("\\", "/")
    return text


def measurement_name(text):
    """The measurement a group name reads back as."""
    text = clean(text) or "_"
    return "_" + text if text[0] == "#" else text


def key_name(text):
    """The tag key or field key a name reads back as."""
    text = clean(text) or "_"
    return RESERVED_KEYS.get(text, text)


def tag_value(text):
    """The tag value a value reads back as; "" means the tag is left out."""
    return clean(text)


@lru_cache(maxsize=4096)
def escape_measurement(text):
    return measurement_name(text).translate(_MEASUREMENT_ESCAPES)


@lru_cache(maxsize=4096)
def escape_tag_key(text):
    return key_name(text).translate(_TAG_ESCAPES)


@lru_cache(maxsize=16384)
def escape_tag_value(text):
    return tag_value(text).translate(_TAG_ESCAPES)


@lru_cache(maxsize=16384)
def escape_field_key(text):
    return key_name(text).translate(_FIELD_KEY_ESCAPES)


@lru_cache(maxsize=16384)
def _field_key(name):
    return escape_field_key(".".join(map(str, name)))


# -- values and times --------------------------------------------------------------------------
def format_value(value):
    """``123i`` for an int, ``repr`` for a float; None for anything else or non-finite."""
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else None
    if isinstance(value, int):  # bool too: True -> 1i
        value = int(value)
        return f"{value}i" if INT64_MIN <= value <= INT64_MAX else None
    return None


def timestamp(ts, precision="s"):
    """Unix time ``ts`` (seconds) truncated to ``precision`` units (float noise tolerated)."""
    return math.floor(ts * PRECISIONS[precision] + 1e-6)


# -- the serializer ----------------------------------------------------------------------------
def serialize(samples, host, precision="s", tags=None):
    """Line protocol for ``samples`` of minion ``host`` (bytes, one ``\\n`` per line).

    Pure and total: a sample that cannot be written is dropped (debug line), never raised.
    """
    base = {}
    for key, value in (tags or {}).items():
        _put_tag(base, key, value)
    prefixes = {}  # (group, sample tags) -> "measurement,tag=value,..."
    times = {}  # sample.ts -> ticks
    lines = {}  # (prefix, ticks) -> {field key: value}
    dropped = 0
    for sample in samples:
        try:
            value = format_value(sample.value)
            ticks = times.get(sample.ts)
            if ticks is None:
                ticks = times[sample.ts] = timestamp(sample.ts, precision)
            series = (sample.group, sample.tags)
            prefix = prefixes.get(series)
            if prefix is None:
                prefix = prefixes[series] = _prefix(sample.group, sample.tags, base, host)
            key = _field_key(sample.name)
        except (TypeError, ValueError, OverflowError):
            value = None
        if value is None:
            dropped += 1
            continue
        fields = lines.get((prefix, ticks))
        if fields is None:
            fields = lines[(prefix, ticks)] = {}
        fields[key] = value
    if dropped:
        log.debug("influxdb: dropped %d value(s) that are not finite int64/float numbers", dropped)
    out = [
        f"{prefix} {','.join(f'{k}={v}' for k, v in fields.items())} {ticks}\n"
        for (prefix, ticks), fields in lines.items()
    ]
    return "".join(out).encode("utf-8")


def _put_tag(tagset, key, value):
    escaped = escape_tag_value(value)
    if escaped:
        tagset[escape_tag_key(key)] = escaped


def _prefix(group, sample_tags, base, host):
    tagset = dict(base)
    for key, value in sample_tags:
        _put_tag(tagset, key, value)
    _put_tag(tagset, "host", host)
    return ",".join([escape_measurement(group)] + [f"{k}={tagset[k]}" for k in sorted(tagset)])


# -- database creation (api v1) ----------------------------------------------------------------
def influxql_ident(name):
    """A double-quoted InfluxQL identifier."""
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


class DatabaseCreator:
    """``recover`` hook of the v1 transports: create what a write found missing, then the
    transport sends the payload once more. Never used on the healthy path."""

    def __init__(self, opts):
        self.db = opts["db"]
        self.rp = opts["rp"]
        self.enabled = opts["create_database"]
        self.duration = opts["retention_duration"]
        self.name = opts["retention_name"] or self.rp or "vitals"
        self.replication = opts["retention_replication"]

    def statements(self, missing):
        db = influxql_ident(self.db)
        out = []
        if missing == "database":
            create = f"CREATE DATABASE {db}"
            if self.duration:
                create += (
                    f" WITH DURATION {self.duration} REPLICATION {self.replication}"
                    f" NAME {influxql_ident(self.name)}"
                )
            out.append(create)
        if self.rp and (missing == "retention policy" or not self.duration or self.rp != self.name):
            out.append(
                f"CREATE RETENTION POLICY {influxql_ident(self.rp)} ON {db}"
                f" DURATION {self.duration or 'INF'} REPLICATION {self.replication}"
            )
        return out

    def __call__(self, transport, response):
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
        query = "; ".join(self.statements(missing))
        answer = transport.request(
            "POST",
            "/query",
            urlencode({"q": query}).encode("utf-8"),
            content_type="application/x-www-form-urlencoded",
        )
        problem = _query_error(answer)
        if problem:
            raise DeliveryError(
                f"{what} does not exist on {transport.label} and creating it failed: "
                f"{transport.quote(problem)}"
            )
        log.info("influxdb: created %s on %s", what, transport.label)
        return True


def _query_error(answer):
    if not answer.ok:
        return f"HTTP {answer.status}: {answer.message()}"
    try:
        results = json.loads(answer.body.decode("utf-8", "replace")).get("results") or []
    except (ValueError, AttributeError):
        return None
    errors = [r.get("error") for r in results if isinstance(r, dict) and r.get("error")]
    return "; ".join(errors) or None


# -- the backend -------------------------------------------------------------------------------
def grain_tags(keys, grains):
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
        "precision": Option("str", "s", choices=tuple(PRECISIONS), doc="timestamp precision"),
        "verify": Option("bool", True, doc="verify HTTPS certificates"),
        "ca_bundle": Option("str", "", doc="CA certificates file for HTTPS"),
        "gzip": Option("bool", True, doc="gzip request bodies"),
        "tags": Option("dict", {}, doc="extra tags for every point, e.g. {role: web}"),
        "grain_tags": Option("list", [], doc="grains added as tags, e.g. [role, 'rack:row']"),
        "create_database": Option("bool", True, doc="v1: create a missing db / rp"),
        "retention_duration": Option("str", "", doc="v1: duration of the created policy"),
        "retention_name": Option("str", "", doc="v1: name of that policy; default rp or vitals"),
        "retention_replication": Option("int", 1, minimum=1),
    }

    def validate(self, opts):
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

    def with_minion(self, opts, minion_opts):
        found = grain_tags(opts["grain_tags"], minion_opts.get("grains") or {})
        opts["tags"] = {**found, **opts["tags"]}  # explicit tags win
        return opts

    def spool_key(self, opts):
        return opts["precision"]

    def serialize(self, samples, minion, opts):
        return serialize(samples, minion, opts["precision"], opts["tags"])

    def transports(self, opts):
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
