"""Base URLs of HTTP backends: parsed once, shown without credentials.

:func:`parse_url` and :func:`redact_url` are re-exported by :mod:`salt_ext.core.net.http`, the
transport that uses them.
"""

from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Endpoint:
    """A parsed base URL. ``username``/``password`` come from ``user:pass@`` in the URL."""

    scheme: str
    host: str
    port: int
    path: str  # base path without trailing slash ("" or "/influx")
    username: Optional[str] = None
    password: Optional[str] = None

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse_url(url: object) -> Endpoint:
    """``http(s)://[user:pass@]host[:port][/base/path]`` -> :class:`Endpoint`.

    Raises ValueError whose text never contains the password.
    """
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"cannot parse {redact_url(text)!r}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{redact_url(text)!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"{redact_url(text)!r} has no host")
    if parts.query or parts.fragment:
        raise ValueError(f"{redact_url(text)!r} must not have a query or fragment")
    return Endpoint(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
        path=parts.path.rstrip("/"),
        username=_unquote(parts.username),
        password=_unquote(parts.password),
    )


def redact_url(text: object) -> str:
    """The URL with any ``user:password@`` replaced by ``***@`` (for error messages)."""
    scheme, sep, rest = str(text).partition("://")
    if not sep:
        return "***" if "@" in scheme else scheme
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return f"{scheme}://{netloc}{slash}{tail}"


def _unquote(value: Optional[str]) -> Optional[str]:
    return unquote(value) if value else None
