"""One InfluxDB connection: the options every reader of one shares, and the client that owns
its credentials, TLS settings and HTTP transport (:mod:`salt_ext.core.net.http`).

Three namespaces reach InfluxDB, each under its own key with its own extra options: the
``influxdb:`` returner (writes), ``vitals_query:`` (read-back) and ``vitals_influxdb:`` (the
admin modules). Their connection part is :func:`connection_options`, checked by
:func:`check_connection`, and each builds an :class:`InfluxClient` from it.

Authentication: ``user``/``password`` is basic auth (InfluxDB 1.x); otherwise a ``token`` goes
in ``Authorization: Token`` (2.x, and 1.x-compatible APIs) or ``Authorization: Bearer`` (3.x).
Secrets live only in request headers: never in a label, a log line or an exception text, and
any server answer quoted in an error is scrubbed of them.
"""

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional, Union
from urllib.parse import urlencode

from salt_ext.core.config import Option, Options
from salt_ext.core.errors import ConfigError, DeliveryError, QueryError
from salt_ext.core.influxdb import influxql
from salt_ext.core.net.http import MAX_ANSWER_BYTES, Endpoint, HttpTransport, Response, parse_url

DEFAULT_URL = "http://127.0.0.1:8086"
WRITE_PATHS = {"v1": "/write", "v2": "/api/v2/write", "v3": "/api/v3/write_lp"}


def connection_options(
    credentials: str = "", token: bool = True, timeout: bool = True
) -> dict[str, Option]:
    """The connection part of an option spec. ``credentials`` prefixes the user and password
    names (``admin_`` -> ``admin_user``, ``admin_password``); ``token`` and ``timeout`` leave
    those options out when False (the returner's timeout is every returner's)."""
    spec = {
        "url": Option("str", DEFAULT_URL, doc="base URL, http(s)://host[:port][/path]"),
        f"{credentials}user": Option(
            "str", "", doc="basic auth user (InfluxDB 1.x); empty: no basic auth"
        ),
        f"{credentials}password": Option("str", "", secret=True, doc="that user's password"),
    }
    if token:
        spec["token"] = Option(
            "str", "", secret=True, doc="API token (2.x, 3.x; 1.x's v1 API without user)"
        )
    if timeout:
        spec["timeout"] = Option("float", 10.0, minimum=0.1, doc="seconds per request")
    spec["verify"] = Option("bool", True, doc="verify HTTPS certificates")
    spec["ca_bundle"] = Option("str", "", doc="CA certificates file for HTTPS")
    return spec


def check_connection(prefix: str, opts: Options, credentials: str = "") -> None:
    """Cross-option checks of :func:`connection_options`: a user goes with a password and the
    reverse, and ``ca_bundle`` names a file. Raises ConfigError naming ``prefix:key``."""
    user, password = f"{credentials}user", f"{credentials}password"
    if opts[user] and not opts[password]:
        raise ConfigError(f"{prefix}:{password}", f"required when {user} is set")
    if opts[password] and not opts[user]:
        raise ConfigError(f"{prefix}:{user}", f"required when {password} is set")
    if opts["ca_bundle"] and not os.path.isfile(opts["ca_bundle"]):
        raise ConfigError(f"{prefix}:ca_bundle", f"no such file: {opts['ca_bundle']!r}")


def endpoints(key: str, urls: Sequence[str]) -> list[Endpoint]:
    """Parsed base URLs; ConfigError naming ``key`` (never the password in a URL)."""
    out = []
    for url in urls:
        try:
            out.append(parse_url(url))
        except ValueError as exc:
            raise ConfigError(key, f"expected http(s)://host[:port][/path]: {exc}") from None
    return out


class InfluxError(QueryError):
    """A statement failed, or the server could not be reached. ``problem`` is the server's
    (or the network's) own words, secrets scrubbed, for callers that word the message
    themselves."""

    def __init__(self, message: str, problem: str = "") -> None:
        super().__init__(message)
        self.problem = problem or message


class AuthError(InfluxError):
    """The server refused the credentials (HTTP 401/403)."""


Recover = Callable[["InfluxClient", Response], bool]
"""``recover(client, response)``: repair the destination after a failed write (create the
missing database), True to send the payload once more."""


class InfluxClient:
    """One InfluxDB server: ``write`` line protocol, ``query`` InfluxQL.

    ``write_params`` (``db``, ``rp``, ``precision``; ``org``, ``bucket``) and ``gzip`` are the
    write API's; :meth:`send` is :meth:`write` under the name of the delivery core's transport
    protocol, so a list of clients fails over and spools like any transports.
    """

    def __init__(
        self,
        url: Union[str, Endpoint] = DEFAULT_URL,
        api: str = "v1",
        user: str = "",
        password: str = "",
        token: str = "",
        timeout: float = 10.0,
        verify: bool = True,
        ca_bundle: str = "",
        write_params: Optional[Mapping[str, str]] = None,
        gzip: bool = False,
        recover: Optional[Recover] = None,
    ) -> None:
        self.settings: dict[str, Any] = {
            "url": url,
            "api": api,
            "timeout": timeout,
            "verify": verify,
            "ca_bundle": ca_bundle,
        }
        self.user, self.token = user, token
        headers, auth = {}, None
        if user and api == "v1":
            auth = (user, password)
        elif token:
            headers["Authorization"] = f"{'Bearer' if api == 'v3' else 'Token'} {token}"
        self.http = HttpTransport(
            url,
            WRITE_PATHS[api],
            params=write_params,
            headers=headers,
            auth=auth,
            timeout=timeout,
            verify=verify,
            ca_bundle=ca_bundle,
            gzip=gzip,
            recover=(lambda _http, answer: recover(self, answer)) if recover else None,
        )
        self.label = self.http.label

    def __repr__(self) -> str:
        return f"<InfluxClient {self.label}>"

    @classmethod
    def from_options(
        cls, opts: Mapping[str, Any], credentials: str = "", **kwargs: Any
    ) -> "InfluxClient":
        """A client from options parsed against :func:`connection_options` (the same
        ``credentials`` prefix); ``kwargs`` add to or override them (``url``, ``api``, ...)."""
        settings = {
            "url": opts["url"],
            "user": opts[f"{credentials}user"],
            "password": opts[f"{credentials}password"],
            "token": opts.get("token", ""),
            "timeout": opts["timeout"],
            "verify": opts["verify"],
            "ca_bundle": opts["ca_bundle"],
        }
        return cls(**{**settings, **kwargs})

    def login(self, user: str = "", password: str = "") -> "InfluxClient":
        """The same server and TLS settings as ``user`` (no credentials at all when empty)."""
        return InfluxClient(user=user, password=password, **self.settings)

    # -- writes --------------------------------------------------------------------------------
    def write(self, payload: bytes) -> None:
        """POST line protocol to the write API; DeliveryError unless it is accepted (retryable
        or not, see :mod:`salt_ext.core.net.http`)."""
        self.http.send(payload)

    send = write  # the delivery core's Transport protocol

    # -- queries -------------------------------------------------------------------------------
    def ping(self) -> bool:
        """True when the server answers ``/ping``."""
        try:
            return self.http.request("GET", "/ping").status == 204
        except DeliveryError:
            return False

    def wait_ready(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for ``/ping``; raise InfluxError if it never answers."""
        deadline = time.monotonic() + timeout
        while not self.ping():
            if time.monotonic() >= deadline:
                raise InfluxError(f"InfluxDB at {self.label} does not answer /ping")
            time.sleep(0.5)

    def query(
        self,
        statements: Union[str, Sequence[str]],
        params: Optional[Mapping[str, str]] = None,
        max_bytes: Optional[int] = MAX_ANSWER_BYTES,
    ) -> list[influxql.Result]:
        """Run InfluxQL (POST /query, ``params`` such as ``db``, ``rp``, ``epoch`` in the form);
        one result per statement, or raise :class:`InfluxError` (:class:`AuthError` for
        refused credentials). ``max_bytes``: as :meth:`HttpTransport.request`."""
        listed = [statements] if isinstance(statements, str) else list(statements)
        form = {"q": "; ".join(listed), **(params or {})}
        verb = influxql.verb(listed)
        try:
            answer = self.http.request(
                "POST",
                "/query",
                urlencode(form).encode("utf-8"),
                content_type="application/x-www-form-urlencoded",
                max_bytes=max_bytes,
            )
        except DeliveryError as exc:
            raise InfluxError(str(exc)) from None
        problem = f"HTTP {answer.status}: {self.http.quote(answer.message())}"
        if answer.status in (401, 403):
            who = (
                f"user {self.user!r}"
                if self.user
                else ("the token" if self.token else "anonymous access")
            )
            raise AuthError(
                f"authentication failed for {self.label}, which refused {who}: {problem}", problem
            )
        if not answer.ok:
            raise InfluxError(f"{verb} on {self.label}: {problem}", problem)
        try:
            results = influxql.parse_results(answer.body)
        except ValueError as exc:
            raise InfluxError(f"{verb} on {self.label}: {exc}") from None
        errors = influxql.errors(results)
        if errors:
            problem = self.http.quote("; ".join(errors))
            raise InfluxError(f"{verb} on {self.label}: {problem}", problem)
        if len(results) != len(listed):
            raise InfluxError(
                f"{verb} on {self.label}: answered {len(results)} of {len(listed)} statements"
            )
        return results
