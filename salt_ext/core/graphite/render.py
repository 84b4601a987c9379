"""Read vitals back from graphite-web: the render API (``format=json``, ``summarize``,
``consolidateBy``, ``timeSlice``, ``aliasByNode``, ``format=png``) and the find API to list
what exists, all as POST requests. One render per metric for all nodes (``*``, or ``{a,b}`` for
a short selection); each series is matched back to its node and tag by its path segments.

Metric paths are the carbon returner's own (:class:`~salt_ext.core.graphite.paths.PathBuilder`
with the configured ``prefix`` and ``template``): a placeholder minion and tag value are rendered
through it and become ``*`` (or ``{a,b}``), so a path can never be spelled differently here than
where it is written. Node names and tag values read back sanitised, as they are stored (``/boot``
is ``boot``, ``/`` is ``root``, ``web.example.com`` is ``web_example_com``).

Whisper includes a point at ``from`` only when asked from one second earlier, and includes
``until``; buckets cover ``[start, end)`` as InfluxQL's ``time >= start AND time < end`` does.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional
from urllib.parse import urlencode

from salt_ext.core.config import Options
from salt_ext.core.errors import DeliveryError, QueryError
from salt_ext.core.graphite.paths import DEFAULT_TEMPLATE, PathBuilder, validate_template
from salt_ext.core.net.http import HttpTransport, Response
from salt_ext.core.samples import Buckets, Metric, Points, Sample, Series, Summary

SUMMARIZE = {"mean": "avg", "max": "max", "min": "min", "last": "last"}
CONSOLIDATE = {"mean": "average", "max": "max", "min": "min", "last": "last"}
NODE = "NODEx9q"
_TAG = "TAGx9q"
_FIELD = "FIELDx9q"
_FEW_NODES = 20  # stale nodes named in a render; more are read with * and picked here
_WIDEST_STEP = 366 * 86400  # longer than the step of any whisper archive


class GraphiteReader:
    """The reader protocol of :mod:`salt_ext.core.readback.views` over one graphite-web."""

    def __init__(self, opts: Options) -> None:
        template = opts.get("template") or DEFAULT_TEMPLATE
        problem = validate_template(template)
        if problem:
            raise QueryError(f"vitals_query:template: {problem}")
        self.paths = PathBuilder(NODE, opts.get("prefix", "vitals"), template)
        try:
            self.http = HttpTransport(
                opts["url"],
                "/render",
                timeout=opts["timeout"],
                verify=opts["verify"],
                ca_bundle=opts["ca_bundle"],
                gzip=False,
            )
        except ValueError as exc:
            raise QueryError(f"vitals_query:url: {exc}") from None
        self.label = self.http.label

    # -- paths -----------------------------------------------------------------------------
    def pattern(
        self,
        metric: Metric,
        nodes: Optional[Sequence[str]] = None,
        tag: str = "*",
        field: Optional[str] = None,
    ) -> tuple[str, Optional[int], Optional[int]]:
        """The path glob of ``metric`` and where the node and tag segments are in it."""
        pattern, node_at, tag_at, _ = metric_pattern(
            self.paths, metric, _alternatives(nodes), tag, field
        )
        return pattern, node_at, tag_at

    def _aliased(self, expression: str, node_at: Optional[int], tag_at: Optional[int]) -> str:
        keep = [i for i in (node_at, tag_at) if i is not None]
        return f"aliasByNode({expression}, {', '.join(map(str, keep))})"

    # -- the reader protocol -----------------------------------------------------------------
    def nodes(self, metric: Metric) -> list[str]:
        pattern, node_at, _ = self.pattern(metric)
        return sorted({item["path"].split(".")[node_at] for item in self.find(pattern)})

    def fields(self, group: str) -> list[str]:
        pattern, _, _ = self.pattern(Metric(group, "x"), field="*")
        return sorted({item["name"] for item in self.find(pattern) if _leaf(item)})

    def summary(
        self,
        metric: Metric,
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: Optional[int],
        recent: int,
    ) -> dict[Series, Summary]:
        """One render: ``summarize(<path>, "<step>s", "avg")`` for the bucket means, and the raw
        points of the last ``recent`` seconds (``timeSlice``) for the newest point, which
        graphite-web has no function for. A series with no point there (a stale node) gets its
        newest point from a second render of that node's points since its last bucket."""
        pattern, node_at, tag_at = self.pattern(metric, nodes)
        if step:
            means = f'summarize({pattern}, "{step}s", "avg")'
        else:  # one bucket from the first point on, however coarse the archive is
            means = f'summarize({pattern}, "{end - start + _WIDEST_STEP}s", "avg", true)'
        # timeSlice compares wall-clock times (time.mktime): its end lies a day out so that no
        # point inside the window can fall after it
        tail = f'timeSlice({pattern}, "{max(start, end - recent)}", "{end + 86400}")'
        answer = self.render([means, tail], start, end, noNullPoints="true")
        parts: dict[bool, list[Any]] = {True: [], False: []}  # sliced or not
        for item in answer:
            parts["timeSliceStart" in (item.get("tags") or {})].append(item)
        buckets = _points(parts[False], node_at, tag_at)
        newest = {s: points[-1] for s, points in _points(parts[True], node_at, tag_at).items()}
        older = {s: points[-1][0] for s, points in buckets.items() if s not in newest}
        if older:
            newest.update(self._newest(metric, older, end, node_at, tag_at))
        return {
            series: Summary(newest[series], [(ts if step else start, v) for ts, v in points])
            for series, points in buckets.items()
            if series in newest
        }

    def _newest(
        self,
        metric: Metric,
        since: Mapping[Series, int],
        end: int,
        node_at: Optional[int],
        tag_at: Optional[int],
    ) -> dict[Series, tuple[int, float]]:
        """The newest point of each series of ``since`` (series -> a time before it)."""
        nodes = sorted({node for node, _ in since})
        pattern, _, _ = self.pattern(metric, nodes if len(nodes) <= _FEW_NODES else None)
        answer = self.render([pattern], min(since.values()), end, noNullPoints="true")
        return {
            series: points[-1]
            for series, points in _points(answer, node_at, tag_at).items()
            if series in since
        }

    def buckets(
        self,
        metric: Metric,
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: int,
        agg: str,
    ) -> dict[Series, Buckets]:
        pattern, node_at, tag_at = self.pattern(metric, nodes)
        expression = (
            f'consolidateBy(summarize({pattern}, "{step}s", "{SUMMARIZE[agg]}"), '
            f'"{CONSOLIDATE[agg]}")'
        )
        return _by_series(self.render([expression], start, end), node_at, tag_at)

    def png(
        self,
        metric: Metric,
        nodes: Optional[Sequence[str]],
        start: int,
        end: int,
        step: int,
        agg: str,
        path: str,
        width: int = 900,
        height: int = 400,
    ) -> int:
        """Save graphite-web's rendered graph of ``metric`` to ``path``; return its size."""
        pattern, node_at, tag_at = self.pattern(metric, nodes)
        expression = f'summarize({pattern}, "{step}s", "{SUMMARIZE[agg]}")'
        body = self._get(
            [self._aliased(expression, node_at, tag_at)],
            start,
            end,
            format="png",
            width=width,
            height=height,
            title=f"{metric} ({agg} per {step}s)",
        )
        if not body.startswith(b"\x89PNG"):
            raise QueryError(f"{self.label} did not answer with a PNG image")
        try:
            with open(path, "wb") as handle:
                handle.write(body)
        except OSError as exc:
            raise QueryError(f"cannot write {path}: {exc.strerror or exc}") from None
        return len(body)

    # -- HTTP --------------------------------------------------------------------------------
    def find(self, pattern: str) -> list[dict[str, Any]]:
        """What exists under a path glob: ``[{"path", "name", "is_leaf"}]``."""
        body = self._request("/metrics/find", {"query": pattern, "format": "completer"})
        return _json(body, self.label).get("metrics") or []

    def render(self, targets: Sequence[str], start: int, end: int, **extra: object) -> Any:
        return _json(self._get(targets, start, end, format="json", **extra), self.label)

    def _get(self, targets: Sequence[str], start: int, end: int, **extra: object) -> bytes:
        params = [("target", t) for t in targets]
        # whisper leaves out a point at exactly `from`; ask from one second earlier
        params += [("from", str(int(start) - 1)), ("until", str(int(end) - 1))]
        params += [(k, str(v)) for k, v in extra.items()]
        return self._request("/render", params)

    def _request(self, path: str, params: Any) -> bytes:
        """POST, always: a long target or find query never meets a request-line limit
        (gunicorn answers 400 past 4 KB)."""
        try:
            response = self.http.request(
                "POST",
                path,
                urlencode(params).encode("utf-8"),
                content_type="application/x-www-form-urlencoded",
                max_bytes=None,
            )
        except DeliveryError as exc:
            raise QueryError(str(exc)) from None
        if response.status in (401, 403):
            raise QueryError(f"authentication failed for {self.label}: HTTP {response.status}")
        if not response.ok:
            text = self.http.quote(_first_line(response))
            raise QueryError(f"{self.label}{path} answered HTTP {response.status}: {text}")
        return response.body


def metric_pattern(
    paths: PathBuilder, metric: Metric, node: str = "*", tag: str = "*", field: Optional[str] = None
) -> tuple[str, Optional[int], Optional[int], Optional[int]]:
    """``metric``'s path as the carbon returner writes it, with ``node``, ``tag`` and (when
    given) ``field`` in their segments; and the indexes of the node, tag and field segments.

    ``paths`` is a :class:`PathBuilder` made with :data:`NODE` as the minion."""
    tags = ((metric.tag, _TAG),) if metric.tag else ()
    sample = Sample(metric.measurement, (_FIELD,), 0, 0, tags)
    segments = paths.path(sample).split(".")
    node_at, tag_at, field_at = (
        segments.index(s) if s in segments else None for s in (NODE, _TAG, _FIELD)
    )
    for index, value in ((node_at, node), (tag_at, tag), (field_at, field or metric.field)):
        if index is not None:
            segments[index] = value
    return ".".join(segments), node_at, tag_at, field_at


def _leaf(item: dict[str, Any]) -> bool:
    return str(item.get("is_leaf")) in ("1", "True", "true")


def _alternatives(nodes: Optional[Sequence[str]]) -> str:
    if not nodes:
        return "*"
    return nodes[0] if len(nodes) == 1 else "{" + ",".join(nodes) + "}"


def _path(item: Mapping[str, Any]) -> str:
    return str((item.get("tags") or {}).get("name", ""))


def _by_series(
    answer: Sequence[Mapping[str, Any]],
    node_at: Optional[int],
    tag_at: Optional[int],
) -> dict[Series, Buckets]:
    """The render API's series keyed by node and tag, their ``(ts, value)`` points in order."""
    return {
        _series(_path(item), node_at, tag_at): [(int(ts), v) for v, ts in item["datapoints"]]
        for item in answer
    }


def _points(
    answer: Sequence[Mapping[str, Any]],
    node_at: Optional[int],
    tag_at: Optional[int],
) -> dict[Series, Points]:
    """Like :func:`_by_series`, without null values, and without series left empty."""
    out = {}
    for item in answer:
        points = [(int(ts), v) for v, ts in item["datapoints"] if v is not None]
        if points:
            out[_series(_path(item), node_at, tag_at)] = points
    return out


def _series(path: str, node_at: Optional[int], tag_at: Optional[int]) -> Series:
    parts = path.split(".")
    node = parts[node_at] if node_at is not None else "_"
    return node, parts[tag_at] if tag_at is not None else None


def _json(body: bytes, label: str) -> Any:
    try:
        return json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        raise QueryError(f"{label} did not answer with JSON (is it graphite-web?)") from None


def _first_line(response: Response) -> str:
    text = response.body.decode("utf-8", "replace").strip().splitlines()
    return text[-1] if text else response.reason
