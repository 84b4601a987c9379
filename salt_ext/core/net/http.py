"""A small HTTP POST transport (stdlib :mod:`http.client`) for the delivery core.

:class:`HttpTransport` follows the transport protocol of :mod:`~salt_ext.core.delivery.delivery`:
it has a ``label`` that is safe to log (the URL without user, password or query) and
``send(payload)`` that raises :class:`~salt_ext.core.errors.DeliveryError` on failure. One payload
is one POST on a fresh connection (gzip ``Content-Encoding`` when enabled); the socket timeout
bounds the connect and every send/receive, and the answer is classified like a mature client does:

====================================  ============================================  =========
outcome                               error text                                    retryable
====================================  ============================================  =========
2xx                                   (success)
connect error, timeout, TLS failure   ``cannot connect to <url>: <reason>`` / ...   yes
429, 408, 5xx                         ``<url> answered HTTP 503: <server text>``    yes
401, 403                              ``authentication failed for <url>: ...``      yes [#]_
404, 3xx, anything unexpected         ``<url> answered HTTP 404: <server text>``    yes [#]_
400, 413, 422 and other 4xx           ``<url> rejected N line(s): HTTP 400: ...``   no
====================================  ============================================  =========

.. [#] resending the same bytes cannot succeed until the credentials are fixed, but they *are*
   fixable by configuration, so the points are spooled rather than lost.
.. [#] a wrong URL or a missing database/bucket is a configuration problem, so spool as well.

Before a failed write is classified, an optional ``recover(transport, response)`` hook may
repair the destination (the InfluxDB backend creates a missing database there) and return True;
the payload is then sent once more.

Secrets (password, token, the basic-auth string) live only in request headers. They are never
part of ``label``, log records or exception texts; server answers quoted in errors are cut to
a few hundred characters and scrubbed of any secret they might echo.
"""

import base64
import gzip
import http.client
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Optional, Union
from urllib.parse import urlencode

from salt_ext.core.errors import DeliveryError
from salt_ext.core.net.resolve import create_connection, error_reason
from salt_ext.core.net.urls import Endpoint, parse_url, redact_url

log = logging.getLogger(__name__)

__all__ = ["Endpoint", "HttpTransport", "Response", "basic_auth", "parse_url", "redact_url"]

MAX_ANSWER_BYTES = 64 * 1024  # read at most this much of an answer
MAX_QUOTED = 300  # characters of a server answer quoted in an error
USER_AGENT = "salt-vitals"

_WARNED_INSECURE: set[str] = set()  # labels already warned about verify=False (once per process)


def basic_auth(user: str, password: str) -> str:
    """The value of a basic ``Authorization`` header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


@dataclass
class Response:
    """What a request got back (the body is cut at :data:`MAX_ANSWER_BYTES`)."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def message(self) -> str:
        """The server's error text: InfluxDB's ``X-Influxdb-Error`` header, the JSON ``error``
        (1.x) or ``message`` (2.x/3.x) member, else the body text; on one line."""
        text = self.headers.get("x-influxdb-error") or ""
        if not text and self.body:
            raw = self.body.decode("utf-8", "replace")
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
            if isinstance(data, dict):
                text = str(data.get("error") or data.get("message") or raw)
            else:
                text = raw
        return " ".join(text.split()) or self.reason or ""


Recover = Callable[["HttpTransport", Response], bool]
"""``recover(transport, response)``: repair the destination after a failed write, True to
send the payload once more (see the module docstring)."""


class HttpTransport:
    """POST payloads to ``<url><path>?<params>``; see the module docstring for the rules."""

    def __init__(
        self,
        url: Union[str, Endpoint],
        path: str,
        params: Optional[Mapping[str, str]] = None,
        headers: Optional[Mapping[str, str]] = None,
        auth: Optional[tuple[str, str]] = None,
        timeout: float = 5.0,
        verify: bool = True,
        ca_bundle: Optional[str] = None,
        gzip: bool = True,
        content_type: str = "text/plain; charset=utf-8",
        recover: Optional[Recover] = None,
    ) -> None:
        self.endpoint = url if isinstance(url, Endpoint) else parse_url(url)
        self.label = self.endpoint.label
        self.path = path
        self.params = dict(params or {})
        self.timeout = timeout
        self.verify = verify
        self.ca_bundle = ca_bundle or None
        self.gzip = gzip
        self.content_type = content_type
        self.recover = recover
        self._headers = dict(headers or {})
        self._secrets: list[str] = []
        if auth is None and "Authorization" not in self._headers and self.endpoint.username:
            auth = (self.endpoint.username, self.endpoint.password or "")
        if auth is not None:
            self._headers["Authorization"] = basic_auth(*auth)
            self._secrets += [auth[1], self._headers["Authorization"].split(" ", 1)[1]]
        elif "Authorization" in self._headers:
            self._secrets.append(self._headers["Authorization"].split(" ", 1)[-1])
        secrets = {s for s in self._secrets if s and len(s) >= 3}
        self._secrets = sorted(secrets, key=len, reverse=True)  # longest first
        self._ssl_context: Optional[ssl.SSLContext] = None
        if self.endpoint.scheme == "https" and not verify and self.label not in _WARNED_INSECURE:
            _WARNED_INSECURE.add(self.label)
            log.warning(
                "TLS certificate verification is disabled for %s (verify: false)", self.label
            )

    def __repr__(self) -> str:
        return f"<HttpTransport {self.label}{self.path}>"

    # -- the transport protocol ------------------------------------------------------------
    def send(self, payload: bytes) -> None:
        """POST one payload; raise DeliveryError unless the server accepted it."""
        response = self.post(payload)
        if response.ok:
            return
        if self.recover is not None and self.recover(self, response):
            response = self.post(payload)
            if response.ok:
                return
        raise self.error(response, payload)

    def post(self, payload: bytes) -> Response:
        """POST ``payload`` to the write path; returns the :class:`Response` (any status)."""
        return self.request("POST", self.path, payload, self.params, compress=self.gzip)

    # -- building blocks ---------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        params: Optional[Mapping[str, str]] = None,
        content_type: Optional[str] = None,
        compress: bool = False,
        max_bytes: Optional[int] = MAX_ANSWER_BYTES,
    ) -> Response:
        """One request on a fresh connection. Network problems raise a retryable
        DeliveryError; any HTTP answer is returned as a :class:`Response` whose body is cut at
        ``max_bytes`` (None: read it all, for the read-back queries)."""
        target = self.endpoint.path + path
        if params:
            target += "?" + urlencode(params)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **self._headers}
        if body:
            headers["Content-Type"] = content_type or self.content_type
            if compress:
                body = gzip.compress(body, compresslevel=6, mtime=0)
                headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(body))
        started = time.monotonic()
        conn = self._connection()
        try:
            try:
                conn.connect()
            except (OSError, http.client.HTTPException) as exc:
                raise DeliveryError(
                    f"cannot connect to {self.label}: {error_reason(exc)}"
                ) from None
            try:
                conn.request(method, target, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read(max_bytes)
            except (OSError, http.client.HTTPException) as exc:
                raise DeliveryError(
                    f"{method} {self.label}{path} failed: {error_reason(exc)}"
                ) from None
        finally:
            conn.close()
        response = Response(
            answer.status,
            answer.reason or "",
            {k.lower(): v for k, v in answer.getheaders()},
            data,
        )
        log.debug(
            "%s %s%s -> HTTP %d in %.0f ms (%d bytes sent)",
            method,
            self.label,
            path,
            response.status,
            (time.monotonic() - started) * 1000,
            len(body),
        )
        return response

    def error(self, response: Response, payload: bytes = b"") -> DeliveryError:
        """The DeliveryError for a failed write answer (see the table in the module docs)."""
        status = response.status
        text = self.quote(response.message())
        lines = payload.count(b"\n") or (1 if payload else 0)
        if status in (401, 403):
            return DeliveryError(
                f"authentication failed for {self.label}: HTTP {status}: {text}", retryable=True
            )
        if status in (408, 429) or status >= 500:
            retry = response.headers.get("retry-after")
            hint = f" (retry after {self.quote(retry)}s)" if retry else ""
            return DeliveryError(
                f"{self.label} answered HTTP {status}: {text}{hint}", retryable=True
            )
        if 400 <= status < 500 and status != 404:
            return DeliveryError(
                f"{self.label} rejected {lines} line(s): HTTP {status}: {text}", retryable=False
            )
        return DeliveryError(f"{self.label} answered HTTP {status}: {text}", retryable=True)

    def quote(self, text: object) -> str:
        """Server text made safe to log: secrets scrubbed, cut to :data:`MAX_QUOTED`."""
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 3] + "..."

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self.endpoint.host, self.endpoint.port
        if self.endpoint.scheme == "http":
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        else:
            conn = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._context()
            )
        # http.client resolves names with an unbounded getaddrinfo; its connect() goes through
        # this per-connection hook (stable since Python 3.4), so bound the resolution as well.
        conn._create_connection = create_connection  # type: ignore[attr-defined]
        return conn

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            try:
                context = ssl.create_default_context(cafile=self.ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise DeliveryError(
                    f"cannot load ca_bundle for {self.label}: {error_reason(exc)}"
                ) from None
            if not self.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl_context = context
        return self._ssl_context
