"""Where the read-back runners read from: ``vitals_query:`` in the master config, and the
reader it names."""

from collections.abc import Mapping
from typing import Any, Optional

from salt_ext.core.config import Option, Options, parse
from salt_ext.core.errors import ConfigError
from salt_ext.core.influxdb.client import check_connection, connection_options
from salt_ext.core.readback.model import Reader
from salt_ext.core.readback.times import parse_duration

# The read-back settings: a top-level key of the master config of their own, as pollpush's.
QUERY_KEY = "vitals_query"

QUERY_OPTIONS = {
    "backend": Option(
        "str", "graphite", choices=("graphite", "influxdb"), doc="where to read vitals back"
    ),
    # url, timeout, verify and ca_bundle serve graphite-web as well
    **connection_options(),
    "url": Option("str", "", doc="graphite-web URL, or the InfluxDB HTTP URL (default :8086)"),
    "prefix": Option("str", "vitals", doc="graphite: the carbon returner's prefix"),
    "template": Option("str", "", doc="graphite: the carbon returner's path template, if changed"),
    "api": Option("str", "v1", choices=("v1", "v2"), doc="influxdb: query API"),
    "db": Option("str", "salt", doc="influxdb v1 database"),
    "rp": Option("str", "", doc="influxdb v1 retention policy (default: the db's and its tiers)"),
    "tiers": Option(
        "bool",
        True,
        doc="influxdb v1: beyond the raw policy's retention, read the downsampling tier that"
        " covers the window (found on the server: influxdb SLS's influxdb_server:downsample)",
    ),
    "org": Option("str", "", doc="influxdb v2 organization (informational)"),
    "bucket": Option("str", "", doc="influxdb v2 bucket (queried through the v1 /query API)"),
    "stale_after": Option("str", "3m", doc="a node whose newest point is older is stale"),
}


def read_options(
    raw: Optional[Mapping[str, Any]], overrides: Optional[Mapping[str, Any]] = None
) -> Options:
    """``vitals_query:`` from the master config, with command-line ``overrides``, validated.

    Raises :class:`ConfigError` naming the key; secrets are never part of its text.
    """
    merged = dict(raw or {})
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    opts = parse(QUERY_KEY, merged, QUERY_OPTIONS)
    if not opts["url"]:
        default = "http://127.0.0.1:8086" if opts["backend"] == "influxdb" else ""
        if not default:
            raise ConfigError(f"{QUERY_KEY}:url", "required (the graphite-web URL)")
        opts["url"] = default
    opts["stale_after"] = parse_duration(opts["stale_after"], f"{QUERY_KEY}:stale_after")
    if opts["backend"] == "influxdb" and opts["api"] == "v2":
        for name in ("bucket", "token"):
            if not opts[name]:
                raise ConfigError(f"{QUERY_KEY}:{name}", "required with api v2")
    check_connection(QUERY_KEY, opts)
    return opts


def open_reader(opts: Options) -> Reader:
    """The reader for ``opts["backend"]`` (options from :func:`read_options`)."""
    if opts["backend"] == "influxdb":
        from salt_ext.core.influxdb.read import InfluxReader

        return InfluxReader(opts)
    from salt_ext.core.graphite.render import GraphiteReader

    return GraphiteReader(opts)
