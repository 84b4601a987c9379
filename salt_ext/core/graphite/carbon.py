"""The carbon (Graphite) backend: options, serializer choice and TCP transports."""

from salt_ext.core.config import Option, Options
from salt_ext.core.delivery.delivery import Transport
from salt_ext.core.delivery.returner import Backend
from salt_ext.core.errors import ConfigError
from salt_ext.core.graphite import paths as graphite
from salt_ext.core.net.tcp import TcpTransport
from salt_ext.core.samples import Row, Sample, sample_rows

DEFAULT_PORTS = {"text": 2003, "pickle": 2004}


def parse_endpoint(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6addr]:port`` or a bare IPv6 address -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(text)
        port = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(text)
    if not host:
        raise ValueError(text)
    return host, int(port) if port else default_port


class CarbonBackend(Backend):
    """``--return carbon``: Graphite's carbon plaintext (``text``) or ``pickle`` protocol."""

    name = "carbon"
    options = {
        "host": Option("str", "127.0.0.1", doc="carbon receiver host"),
        "port": Option("int", None, minimum=1, doc="default 2003 (text) or 2004 (pickle)"),
        "hosts": Option("list", [], doc="failover list of host[:port]; overrides host/port"),
        "mode": Option(
            "str", "text", choices=("text", "pickle"), doc="plaintext (text) or pickle protocol"
        ),
        "prefix": Option("str", "vitals", doc="first metric path levels ({prefix} in template)"),
        "template": Option(
            "str",
            graphite.DEFAULT_TEMPLATE,
            doc="metric path; fields {prefix}, {minion}, {group}, {tags}, {name}",
        ),
    }

    def validate(self, opts: Options) -> Options:
        problem = graphite.validate_template(opts["template"])
        if problem:
            raise ConfigError("carbon:template", problem)
        port = opts["port"] or DEFAULT_PORTS[opts["mode"]]
        if port > 65535:
            raise ConfigError("carbon:port", f"must be a TCP port, got {port}")
        try:
            endpoints = [parse_endpoint(h, port) for h in opts["hosts"]]
        except ValueError as exc:
            raise ConfigError("carbon:hosts", f"expected host or host:port, got {exc}") from None
        opts["endpoints"] = endpoints or [(opts["host"], port)]
        return opts

    def serialize(self, samples: list[Sample], minion: str, opts: Options) -> bytes:
        return self.serialize_rows(sample_rows(samples), minion, opts)

    def serialize_rows(self, rows: list[Row], minion: str, opts: Options) -> bytes:
        paths = graphite.path_builder(minion, opts["prefix"], opts["template"])
        return graphite.SERIALIZERS[opts["mode"]](rows, paths)

    def transports(self, opts: Options) -> list[Transport]:
        return [TcpTransport(host, port, opts["timeout"]) for host, port in opts["endpoints"]]


BACKEND = CarbonBackend()
