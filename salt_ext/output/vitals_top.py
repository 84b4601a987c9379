"""
Outputter for ``salt-run vitals.top``: one line of latest values per node and, under it, a
sparkline of the window per column. Stale nodes are flagged ``STALE``.

``vitals.top`` selects it itself; ``--out=json`` (or yaml, nested) prints the plain data. The
read-back runners also print their one-line errors through it, and ``vitals.least_loaded``
its nodes comma-separated (a ``salt -L`` target).

CLI Example:

.. code-block:: bash

    salt-run vitals.top
    salt-run vitals.top --out=vitals_top
"""

from typing import Any, Optional

__virtualname__ = "vitals_top"

FORMATS: dict[str, tuple[str, Optional[str]]] = {
    "cpu": ("CPU%", "{:.1f}"),
    "load1": ("LOAD1", "{:.2f}"),
    "mem": ("MEM%", "{:.1f}"),
    "swap": ("SWAP%", "{:.1f}"),
    "disk": ("DISK%", "{:.1f}"),
    "temp": ("TEMP°C", "{:.1f}"),
    "throttled": ("THROTTLED", None),
}


def __virtual__() -> str:
    return __virtualname__


def _age(seconds: Optional[float]) -> str:
    if seconds is None:
        return "never"
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name == "throttled":
        return "YES" if value else "no"
    template = FORMATS[name][1]
    return template.format(value) if template else str(value)


def render(data: Any) -> str:
    """The table as text (plain function, also used by the tests)."""
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    if isinstance(data, list):  # vitals.least_loaded: a Salt list target
        return ",".join(map(str, data))
    if not isinstance(data, dict) or "nodes" not in data:
        return str(data)
    columns = [c for c in data.get("columns", FORMATS) if c in FORMATS]
    width = max([len(r["node"]) for r in data["nodes"]] + [4]) + 2
    spark = max([len(s) for r in data["nodes"] for s in r.get("spark", {}).values()] + [0])
    cell = max(spark, 9) + 1
    header = "NODE".ljust(width) + "".join(FORMATS[c][0].rjust(cell) for c in columns)
    lines = [header + "  AGE"]
    stale = 0
    for row in data["nodes"]:
        values = "".join(_cell(c, row.get(c)).rjust(cell) for c in columns)
        flag = "  STALE" if row.get("stale") else ""
        stale += bool(row.get("stale"))
        lines.append(row["node"].ljust(width) + values + "  " + _age(row.get("age")) + flag)
        sparks = row.get("spark") or {}
        if sparks:
            lines.append(" " * width + "".join(sparks.get(c, "").rjust(cell) for c in columns))
    window, quiet = _age(data.get("window")), _age(data.get("stale_after"))
    lines.append(
        f"{len(data['nodes'])} node(s), {stale} stale (no point for {quiet}); sparklines over"
        f" {window}; {data.get('backend', '')} at {data.get('at', '')}"
    )
    return "\n".join(lines)


def output(data: Any, **kwargs: Any) -> str:  # pylint: disable=unused-argument
    """
    Render the ``vitals.top`` table (a list as ``a,b``; an error as its one line).

    CLI Example:

    .. code-block:: bash

        salt-run vitals.top --out=vitals_top
    """
    return render(data)
