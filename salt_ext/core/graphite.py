"""Graphite serializers: samples to carbon plaintext or pickle bytes. Pure functions, no I/O.

Metric paths come from a template, by default ``{prefix}.{minion}.{group}.{tags}.{name}``
(``vitals.pi-01.disk.boot.percent``). Every piece that comes from the node (minion id, mount
point, interface, sensor, dict keys) is one *segment* sanitised by :func:`sanitize_segment`, so
no value can add a path level, break the ``path value timestamp`` line or forge a second line.

Sanitising rules (documented in the README):

* characters other than ASCII letters, digits, ``-`` and ``_`` become ``_`` (this covers dots,
  spaces, slashes, control characters, quotes and any non-ASCII character);
* a mount point drops its leading ``/`` first, and ``/`` itself becomes ``root``;
* an empty segment becomes ``_``; a segment longer than 128 characters is cut to 119 and given
  ``_`` plus 8 hex digits of its SHA-1, so long names stay distinct and within file-name limits.
"""

import hashlib
import pickle
import re
import struct
from collections.abc import Callable, Iterable
from typing import Optional, TypeVar

from salt_ext.core.samples import Sample

DEFAULT_TEMPLATE = "{prefix}.{minion}.{group}.{tags}.{name}"
TEMPLATE_FIELDS = ("prefix", "minion", "group", "tags", "name")
MAX_SEGMENT = 128
PICKLE_POINTS_PER_FRAME = 1000
MAX_PICKLE_FRAME = 2**20  # carbon refuses larger pickle frames

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_PATH_TAGS = frozenset({"path"})
_K = TypeVar("_K")


_SAFE_PUNCTUATION = str.maketrans("", "", "-_")


def sanitize_segment(text: object) -> str:
    """Make ``text`` one safe Graphite path segment (see the module docstring)."""
    text = str(text)
    # Most segments are already safe: str methods answer that without the regex.
    if not (text.isascii() and text.translate(_SAFE_PUNCTUATION).isalnum()):
        text = _UNSAFE.sub("_", text) or "_"
    if len(text) > MAX_SEGMENT:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        text = f"{text[: MAX_SEGMENT - 9]}_{digest}"
    return text


def sanitize_tag_value(key: str, value: str) -> str:
    """Sanitise a tag value; mount points lose their leading slash (``/`` is ``root``)."""
    if key in _PATH_TAGS:
        value = value.strip("/") or "root"
    return sanitize_segment(value)


def sanitize_prefix(prefix: str) -> str:
    """A configured prefix may hold several levels (``servers.vitals``); sanitise each."""
    return ".".join(sanitize_segment(p) for p in str(prefix).split(".") if p)


class PathBuilder:
    """Turns samples into metric paths for one minion with one template.

    A return repeats the same group, tag set and field name across many samples (every core has
    ``percent``, every field of ``/boot`` the ``path`` tag): each distinct piece is sanitised
    once per builder and its rendered form kept, so a path costs a few dict lookups.
    """

    def __init__(
        self, minion: str, prefix: str = "vitals", template: str = DEFAULT_TEMPLATE
    ) -> None:
        self.template = template
        self.fixed = {"prefix": sanitize_prefix(prefix), "minion": sanitize_segment(minion)}
        self._heads: dict[tuple[str, tuple], str] = {}  # -> "prefix.minion.group.tags"
        self._groups: dict[str, str] = {}
        self._tags: dict[tuple, str] = {}
        self._names: dict[tuple, str] = {}
        self._default = template == DEFAULT_TEMPLATE

    def path(self, sample: Sample) -> str:
        if not self._default:
            return self._templated(sample)
        head = self._heads.get((sample.group, sample.tags))
        if head is None:
            pieces = (
                self.fixed["prefix"],
                self.fixed["minion"],
                _cached(self._groups, sample.group, _group_text),
                _cached(self._tags, sample.tags, _tags_text),
            )
            head = self._heads[sample.group, sample.tags] = ".".join(p for p in pieces if p)
        name = _cached(self._names, sample.name, _name_text)
        return f"{head}.{name}" if head and name else head or name

    def _templated(self, sample: Sample) -> str:
        rendered = self.template.format(
            **self.fixed,
            group=_cached(self._groups, sample.group, _group_text),
            tags=_cached(self._tags, sample.tags, _tags_text),
            name=_cached(self._names, sample.name, _name_text),
        )
        return ".".join(p for p in rendered.split(".") if p)


def _cached(cache: dict[_K, str], raw: _K, render: Callable[[_K], str]) -> str:
    text = cache.get(raw)
    if text is None:
        text = cache[raw] = render(raw)
    return text


def _group_text(group: str) -> str:
    return ".".join(sanitize_segment(p) for p in group.split("."))


def _tags_text(tags: tuple) -> str:
    return ".".join(sanitize_tag_value(k, v) for k, v in tags)


def _name_text(name: tuple) -> str:
    return ".".join(sanitize_segment(p) for p in name)


def validate_template(template: str) -> Optional[str]:
    """Return an error text for a template with unknown or missing fields, else None."""
    fields = set(re.findall(r"{([^{}]*)}", template))
    unknown = fields - set(TEMPLATE_FIELDS)
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}; use {', '.join(TEMPLATE_FIELDS)}"
    if "name" not in fields:
        return "must contain {name}"
    try:
        template.format(**{f: "x" for f in TEMPLATE_FIELDS})
    except (ValueError, IndexError, KeyError) as exc:
        return f"not a valid template: {exc}"
    return None


def format_value(value: float) -> str:
    """Shortest text that reads back as the same number (ints stay integral)."""
    return str(value) if isinstance(value, int) else repr(float(value))


def plaintext(samples: Iterable[Sample], paths: PathBuilder) -> bytes:
    """Carbon plaintext protocol: ``path value timestamp\\n`` per sample, as bytes."""
    lines = [f"{paths.path(s)} {format_value(s.value)} {int(s.ts)}\n" for s in samples]
    return "".join(lines).encode("ascii")


def pickle_frames(samples: Iterable[Sample], paths: PathBuilder) -> bytes:
    """Carbon pickle protocol: length-prefixed frames of ``[(path, (ts, value)), ...]``, each
    under carbon's 1 MiB frame limit."""
    points = [(paths.path(s), (int(s.ts), s.value)) for s in samples]
    out = []
    pending = [
        points[i : i + PICKLE_POINTS_PER_FRAME]
        for i in range(0, len(points), PICKLE_POINTS_PER_FRAME)
    ]
    while pending:
        chunk = pending.pop(0)
        body = pickle.dumps(chunk, protocol=2)
        if len(body) > MAX_PICKLE_FRAME and len(chunk) > 1:
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
            continue
        out.append(struct.pack("!L", len(body)) + body)
    return b"".join(out)


SERIALIZERS = {"text": plaintext, "pickle": pickle_frames}
