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
            return self._templated(sample)
        return _join(self._head(sample.group, sample.tags), self._name(sample.name))

    def paths(self, samples: Iterable[Sample]) -> list[str]:
        """The path of every sample, in order: :meth:`path` in one pass.

        Consecutive samples of one series (the same group and tags objects, as a return's
        samples come) share a head without looking it up again. When every name is one
        segment that is already safe (a ``vitals.current`` return), one regex search over all
        of them replaces sanitising each.
        """
        samples = samples if isinstance(samples, list) else list(samples)
        if not self._default:
            return [self._templated(s) for s in samples]
        names = _safe_names([s.name for s in samples])
        if names is None:
            names = [self._name(s.name) for s in samples]
        out: list[str] = []
        append = out.append
        group = tags = head = None
        for (sample_group, _, _, _, sample_tags), name in zip(samples, names):
            if sample_group is not group or sample_tags is not tags:
                group, tags = sample_group, sample_tags
                head = self._head(group, tags)
            append(f"{head}.{name}" if head and name else head or name)
        return out

    def _head(self, group: str, tags: tuple) -> str:
        """``prefix.minion.group.tags``, each piece sanitised once per builder."""
        head = self._heads.get((group, tags))
        if head is None:
            head = _join(self._base, _cached(self._groups, group, _group_text))
            if tags:
                head = _join(head, _tags_text(tags))
            self._heads[group, tags] = head
        return head

    def _name(self, name: tuple) -> str:
        return _cached(self._names, name, _name_text)

    def _templated(self, sample: Sample) -> str:
        rendered = self.template.format(
            **self.fixed,
            group=_cached(self._groups, sample.group, _group_text),
            tags=_cached(self._tags, sample.tags, _tags_text),
            name=self._name(sample.name),
        )
        return ".".join(p for p in rendered.split(".") if p)


def _safe_names(names: list[tuple]) -> Optional[list[str]]:
    """``names`` as path segments if each is one non-empty string that sanitising would leave
    as it is, else None."""
    try:
        segments = [segment for (segment,) in names]  # ValueError: a name of 0 or 2+ segments
        joined = "-".join(segments)  # TypeError: a segment that is not a string
    except (ValueError, TypeError):
        return None
    if (
        _UNSAFE_CHAR(joined)
        or not all(segments)
        or len(max(segments, key=len, default="")) > MAX_SEGMENT
    ):
        return None
    return segments


def _join(head: str, name: str) -> str:
    return f"{head}.{name}" if head and name else head or name


def _cached(cache: dict[_K, str], raw: _K, render: Callable[[_K], str]) -> str:
    text = cache.get(raw)
    if text is None:
        text = cache[raw] = render(raw)
    return text


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


def format_value(value: float) -> str:
    """Shortest text that reads back as the same number (ints stay integral)."""
    return str(value) if isinstance(value, int) else repr(float(value))


def plaintext(samples: Iterable[Sample], paths: PathBuilder) -> bytes:
    """Carbon plaintext protocol: ``path value timestamp\\n`` per sample, as bytes."""
    samples = list(samples)
    lines: list[str] = []
    append = lines.append
    for path, (_, _, value, ts, _) in zip(paths.paths(samples), samples):
        kind = type(value)
        text = repr(value) if kind is float or kind is int else format_value(value)
        append(f"{path} {text} {int(ts)}\n")
    return "".join(lines).encode("ascii")


def pickle_frames(samples: Iterable[Sample], paths: PathBuilder) -> bytes:
    """Carbon pickle protocol: length-prefixed frames of ``[(path, (ts, value)), ...]``, each
    under carbon's 1 MiB frame limit."""
    samples = list(samples)
    points: list[tuple[str, tuple[int, float]]] = []
    append = points.append
    last_ts: object = None
    stamp = 0
    for path, (_, _, raw, ts, _) in zip(paths.paths(samples), samples):
        value = raw
        kind = type(value)
        if kind is not float and kind is not int:  # subclasses (numpy) unpickle as their class
            value = int(raw) if isinstance(raw, int) else float(raw)
        if ts is not last_ts:  # a return's samples share one ts object
            last_ts, stamp = ts, int(ts)
        append((path, (stamp, value)))
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


SERIALIZERS = {"text": plaintext, "pickle": pickle_frames}
