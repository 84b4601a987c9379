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

import functools
import hashlib
import pickle
import re
import struct
from collections.abc import Callable, Collection, Iterable, Iterator
from itertools import repeat
from typing import Optional, TypeVar

from salt_ext.core.samples import Name, Row, Sample, sample_rows

DEFAULT_TEMPLATE = "{prefix}.{minion}.{group}.{tags}.{name}"
TEMPLATE_FIELDS = ("prefix", "minion", "group", "tags", "name")
MAX_SEGMENT = 128
PICKLE_POINTS_PER_FRAME = 1000
MAX_PICKLE_FRAME = 2**20  # carbon refuses larger pickle frames
MAX_CACHED = 4096  # rendered pieces a PathBuilder keeps per kind (all are dropped when full)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_UNSAFE_CHAR = _UNSAFE.search
_TEMPLATE_FIELD = re.compile(r"{([^{}]*)}")
_PATH_TAGS = frozenset({"path"})
_K = TypeVar("_K")


def sanitize_segment(text: object) -> str:
    """Make ``text`` one safe Graphite path segment (see the module docstring)."""
    if type(text) is not str:
        text = str(text)
    if not text or _UNSAFE_CHAR(text):  # most segments are safe: one search answers that
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
        self._base = _join(self.fixed["prefix"], self.fixed["minion"])

    def path(self, sample: Sample) -> str:
        if not self._default:
            return self._templated(sample.group, sample.tags, sample.name)
        return _join(self._head(sample.group, sample.tags), self._name(sample.name))

    def paths(self, samples: Iterable[Sample]) -> list[str]:
        """The path of every sample, in order: :meth:`path`, a row at a time (:meth:`row_paths`)."""
        return [
            path
            for group, tags, _, fields in sample_rows(samples)
            for path in self.row_paths(group, tags, list(fields))
        ]

    def row_paths(self, group: str, tags: tuple, names: Collection[Name]) -> list[str]:
        """The paths of one row's fields (``names``: a row's fields dict or its names): its
        head (``prefix.minion.group.tags``) is looked up once. When every name is one segment
        that is already safe (a ``vitals.current`` return), one regex search over all of them
        replaces sanitising each."""
        if not self._default:
            return [self._templated(group, tags, name) for name in names]
        head = self._head(group, tags)
        segments = _safe_names(names)
        if segments is None:
            return [_join(head, self._name(name)) for name in names]
        return list(map(f"{head}.".__add__, segments)) if head else list(segments)

    def _head(self, group: str, tags: tuple) -> str:
        """``prefix.minion.group.tags``, each piece sanitised once per builder."""
        head = self._heads.get((group, tags))
        if head is None:
            head = self._base
            for piece in (
                _cached(self._groups, group, _group_text),
                _tags_text(tags) if tags else "",
            ):
                if piece:  # _join's rule, without a call per piece
                    head = f"{head}.{piece}" if head else piece
            if len(self._heads) >= MAX_CACHED:
                self._heads.clear()
            self._heads[group, tags] = head
        return head

    def _name(self, name: Name) -> str:
        return _cached(self._names, name if type(name) is tuple else (name,), _name_text)

    def _templated(self, group: str, tags: tuple, name: Name) -> str:
        rendered = self.template.format(
            **self.fixed,
            group=_cached(self._groups, group, _group_text),
            tags=_cached(self._tags, tags, _tags_text),
            name=self._name(name),
        )
        return ".".join(p for p in rendered.split(".") if p)


def _safe_names(names: Collection[Name]) -> Optional[Collection[str]]:
    """``names`` as path segments if each is one non-empty string (or a tuple of one) that
    sanitising would leave as it is, else None."""
    if names and type(next(iter(names))) is tuple:
        try:
            # ValueError: a name of 0 or 2+ segments
            names = [segment for (segment,) in names]  # type: ignore[str-unpack]
        except (ValueError, TypeError):
            return None
    try:
        joined = "-".join(names)  # type: ignore[arg-type]  # TypeError: not all strings
    except TypeError:
        return None
    if _UNSAFE_CHAR(joined) or not all(names):
        return None
    if len(joined) > MAX_SEGMENT and len(max(names, key=len)) > MAX_SEGMENT:
        return None
    return names  # type: ignore[return-value]


def _join(head: str, name: str) -> str:
    return f"{head}.{name}" if head and name else head or name


def _cached(cache: dict[_K, str], raw: _K, render: Callable[[_K], str]) -> str:
    text = cache.get(raw)
    if text is None:
        if len(cache) >= MAX_CACHED:
            cache.clear()
        text = cache[raw] = render(raw)
    return text


@functools.lru_cache(maxsize=8)
def path_builder(
    minion: str, prefix: str = "vitals", template: str = DEFAULT_TEMPLATE
) -> PathBuilder:
    """The :class:`PathBuilder` of these settings, kept for the life of the process: a minion's
    returns repeat the same series, whose pieces it has then sanitised already."""
    return PathBuilder(minion, prefix, template)


def _group_text(group: str) -> str:
    if "." not in group:
        return sanitize_segment(group)
    return ".".join(sanitize_segment(p) for p in group.split("."))


def _tags_text(tags: tuple) -> str:
    if len(tags) == 1:
        return sanitize_tag_value(*tags[0])
    return ".".join(sanitize_tag_value(k, v) for k, v in tags)


def _name_text(name: tuple) -> str:
    return ".".join(sanitize_segment(p) for p in name)


def validate_template(template: str) -> Optional[str]:
    """Return an error text for a template with unknown or missing fields, else None."""
    if template == DEFAULT_TEMPLATE:
        return None
    fields = set(_TEMPLATE_FIELD.findall(template))
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


_LINE = "{} {} {}\n".format
_EXACT_NUMBERS = frozenset({int, float})  # no bool, no subclass


def format_value(value: float) -> str:
    """Shortest text that reads back as the same number (ints stay integral)."""
    return str(value) if isinstance(value, int) else repr(float(value))


def plaintext(samples: Iterable[Sample], paths: PathBuilder) -> bytes:
    """Carbon plaintext protocol: ``path value timestamp\\n`` per sample, as bytes."""
    return plaintext_rows(sample_rows(samples), paths)


def plaintext_rows(rows: Iterable[Row], paths: PathBuilder) -> bytes:
    """:func:`plaintext` of the samples of ``rows``."""
    lines: list[str] = []
    for stamp, path_list, values in _columns(rows, paths):
        exact = _EXACT_NUMBERS.issuperset(map(type, values))
        lines += map(_LINE, path_list, map(repr if exact else format_value, values), repeat(stamp))
    return "".join(lines).encode("ascii")


def _columns(
    rows: Iterable[Row], paths: PathBuilder
) -> Iterator[tuple[int, list[str], list[float]]]:
    """``(whole-second timestamp, paths, values)`` of consecutive rows of one time (all the
    rows of a return): a few lists per return instead of a few objects per row."""
    path_list: list[str] = []
    values: list[float] = []
    last = 0.0
    for group, tags, ts, fields in rows:
        if ts is not last and values:
            yield int(last), path_list, values
            path_list, values = [], []
        last = ts
        path_list += paths.row_paths(group, tags, fields)
        values += fields.values()
    if values:
        yield int(last), path_list, values


def pickle_frames(samples: Iterable[Sample], paths: PathBuilder) -> bytes:
    """Carbon pickle protocol: length-prefixed frames of ``[(path, (ts, value)), ...]``, each
    under carbon's 1 MiB frame limit."""
    return pickle_rows(sample_rows(samples), paths)


def pickle_rows(rows: Iterable[Row], paths: PathBuilder) -> bytes:
    """:func:`pickle_frames` of the samples of ``rows``."""
    points: list[tuple[str, tuple[int, float]]] = []
    for stamp, path_list, values in _columns(rows, paths):
        exact = values
        if not _EXACT_NUMBERS.issuperset(map(type, values)):  # numpy's would unpickle as its own
            exact = [int(v) if isinstance(v, int) else float(v) for v in values]
        points += zip(path_list, zip(repeat(stamp), exact))
    if not points:
        return b""
    if len(points) <= PICKLE_POINTS_PER_FRAME:  # a return: one frame, one dumps
        body = pickle.dumps(points, protocol=2)
        if len(body) <= MAX_PICKLE_FRAME:
            return struct.pack("!L", len(body)) + body
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


SERIALIZERS = {"text": plaintext_rows, "pickle": pickle_rows}
"""Serializer of each ``mode``, from rows (:func:`~salt_ext.core.samples.return_rows`)."""
