"""InfluxDB 1.x (Debian's ``influxd``): the demo's second backend, the tests' and the benches'
InfluxDB, optionally with authentication or HTTPS; small InfluxQL helpers to set it up and read
it back."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vitals_daemons import process
from vitals_daemons.process import BackendError, _HTTPDaemon, free_port


class InfluxD(_HTTPDaemon):
    """InfluxDB 1.x ``influxd run`` with everything under ``root``.

    Config ``influxdb.conf``; ``meta/``, ``data/``, ``wal/``; log
    ``influxd.log``.  HTTP and the RPC/backup service listen on free
    127.0.0.1 ports; the ``_internal`` monitor database is disabled.

    With ``auth=True`` the first (unauthenticated) request creates the admin
    user :attr:`admin_user` / :attr:`admin_password`, and all helpers
    authenticate as that user.
    """

    name = "influxd"

    def __init__(
        self,
        root: Path,
        auth: bool = False,
        admin_user: str = "admin",
        admin_password: str = "admin-secret",
        tls: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(root)
        self._binary = process.require_executable("influxd")
        self.tls = tls  # (certfile, keyfile): serve HTTPS only; the cert is its own CA
        if tls is not None:
            self.scheme = "https"
            self._http.verify = tls[0]
        self.auth = auth
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.rpc_port = free_port()
        self.config_path = self.root / "influxdb.conf"

    def _write_config(self) -> None:
        # Upstream 1.x reads reporting-disabled, Debian's patched build reads
        # reporting-enabled; unknown keys are ignored, so set both.
        self.config_path.write_text(
            f"""\
reporting-disabled = true
reporting-enabled = false
bind-address = "{self.host}:{self.rpc_port}"

[meta]
  dir = "{self.root / "meta"}"

[data]
  dir = "{self.root / "data"}"
  wal-dir = "{self.root / "wal"}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self.http_port}"
  auth-enabled = {str(self.auth).lower()}
{self._https_settings()}
  log-enabled = true
  pprof-enabled = false

[logging]
  level = "info"
  suppress-logo = true
"""
        )

    def _https_settings(self) -> str:
        if self.tls is None:
            return ""
        cert, key = self.tls
        return (
            f'  https-enabled = true\n  https-certificate = "{cert}"\n  https-private-key = "{key}"'
        )

    def _command(self) -> list[str]:
        return [self._binary, "run", "-config", str(self.config_path)]

    def _is_ready(self) -> bool:
        return self._probe("/ping", 204)

    def _after_start(self) -> None:
        if not self.auth:
            return
        existing = self._http.post(
            self.url + "/query", data={"q": "SHOW USERS"}, auth=self.credentials, timeout=10
        )
        if existing.status_code != 200:  # not a restart: create the first admin
            self._query_raw(
                f"CREATE USER {_influx_ident(self.admin_user)} WITH PASSWORD "
                f"{_influx_string(self.admin_password)} WITH ALL PRIVILEGES",
                credentials=None,
            )

    @property
    def credentials(self) -> tuple[str, str] | None:
        """``(user, password)`` the helpers use, or None without auth."""
        return (self.admin_user, self.admin_password) if self.auth else None

    def _query_raw(
        self,
        q: str,
        credentials: tuple[str, str] | None,
        db: str | None = None,
        epoch: str | None = "s",
    ) -> dict[str, Any]:
        params = {"q": q}
        if db is not None:
            params["db"] = db
        if epoch is not None:
            params["epoch"] = epoch
        response = self._http.post(self.url + "/query", data=params, auth=credentials, timeout=10)
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {"error": response.text}
        errors = [body.get("error")] + [r.get("error") for r in body.get("results", [])]
        errors = [e for e in errors if e]
        if response.status_code >= 300 or errors:
            raise BackendError(f"influx query {q!r}: HTTP {response.status_code} {errors}")
        return body

    def query(self, q: str, db: str | None = None, epoch: str | None = "s") -> dict[str, Any]:
        """Run InfluxQL ``q`` via POST /query; raise :class:`BackendError` on errors."""
        return self._query_raw(q, self.credentials, db=db, epoch=epoch)

    def write(
        self, lines: str | Iterable[str], db: str, precision: str = "s", rp: str | None = None
    ) -> None:
        """Write line protocol to ``db`` (must exist); raise unless HTTP 204."""
        body = lines if isinstance(lines, str) else "\n".join(lines)
        params = {"db": db, "precision": precision}
        if rp is not None:
            params["rp"] = rp
        response = self._http.post(
            self.url + "/write",
            params=params,
            data=body.encode(),
            auth=self.credentials,
            timeout=10,
        )
        if response.status_code != 204:
            raise BackendError(f"influx write: HTTP {response.status_code} {response.text}")

    def create_user(self, name: str, password: str, admin: bool = False) -> None:
        """Create a user, optionally with ALL PRIVILEGES."""
        q = f"CREATE USER {_influx_ident(name)} WITH PASSWORD {_influx_string(password)}"
        self.query(q + (" WITH ALL PRIVILEGES" if admin else ""))

    def points(self, measurement: str, db: str, rp: str | None = None) -> list[dict[str, Any]]:
        """All rows of ``measurement`` as dicts (``time`` in epoch seconds, tags, fields)."""
        source = _influx_ident(measurement)
        if rp is not None:
            source = f"{_influx_ident(rp)}.{source}"
        return [
            dict(zip(series["columns"], row))
            for series in self._series(f"SELECT * FROM {source}", db)
            for row in series.get("values", [])
        ]

    def databases(self) -> list[str]:
        """Names of all databases."""
        return [row[0] for s in self._series("SHOW DATABASES") for row in s.get("values", [])]

    def retention_policies(self, db: str) -> list[dict[str, Any]]:
        """Retention policies of ``db`` as dicts (name, duration, default, ...)."""
        return [
            dict(zip(s["columns"], row))
            for s in self._series(f"SHOW RETENTION POLICIES ON {_influx_ident(db)}")
            for row in s.get("values", [])
        ]

    def _series(self, q: str, db: str | None = None) -> list[dict[str, Any]]:
        result = self.query(q, db=db)["results"][0]
        return list(result.get("series", []))


def _influx_ident(name: str) -> str:
    """Double-quoted InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _influx_string(value: str) -> str:
    """Single-quoted InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
