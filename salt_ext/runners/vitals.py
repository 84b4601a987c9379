"""
Master-side vitals runner: ``salt-run vitals.pollpush`` publishes the collection to the minions
and returns at once; each minion sends its own vitals straight to Graphite/InfluxDB.

Defaults come from the master config, overridable on the command line::

    vitals_pollpush:
      tgt: '*'
      tgt_type: glob
      returners: carbon          # or carbon,influxdb
      samples: 1
      exclude_groups: [temp]     # any vitals: collection option, for every minion

Run it from the master ``schedule:`` (see ``examples/master.d/vitals.conf``)::

    schedule:
      vitals-pollpush:
        function: vitals.pollpush
        seconds: 60
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, cast

import salt.client

from salt_ext.core.errors import ConfigError, VitalsError
from salt_ext.core.jobs.pollpush import POLLPUSH_KEY, publication
from salt_ext.runners import _sls_tree as sls_tree
from salt_ext.translate import salt_errors, salt_exception

if TYPE_CHECKING:  # the read-back core is imported when a read-back runner runs
    from salt_ext.core.config import Options
    from salt_ext.core.graphite.render import GraphiteReader
    from salt_ext.core.readback.model import Reader

log = logging.getLogger(__name__)

__opts__: dict[str, Any]
__context__: dict[str, Any]

__virtualname__ = "vitals"


def __virtual__() -> str:
    return __virtualname__


def pollpush(
    tgt: Optional[str] = None,
    tgt_type: Optional[str] = None,
    returners: Any = None,
    samples: Any = None,
    interval: Any = None,
    mode: Optional[str] = None,
    ret_config: Optional[str] = None,
    ret_kwargs: Optional[dict[str, Any]] = None,
    timeout: Any = None,
    **collection: Any,
) -> dict[str, Any]:
    """
    Publish the vitals collection to the minions asynchronously and return at once.

    Returns the jid and what was published; it never waits for minions. Each minion runs
    ``vitals.push``, which collects and calls the returners on the minion itself, so only a
    small receipt reaches the master's job cache. Every argument left out comes from the master
    config ``vitals_pollpush:``, then from the defaults below.

    tgt, tgt_type
        Which minions (default ``'*'``, ``glob``).

    returners
        Comma-separated returners (default ``carbon``).

    samples, interval
        Passed to ``vitals.current`` (pre-aggregate ``samples`` readings ``interval`` apart).

    mode
        ``push`` (default) as above; ``return`` publishes plain ``vitals.current`` with
        ``ret=<returners>``, the classic Salt path in which every full return also travels to
        the master.

    ret_config, ret_kwargs
        A returner configuration profile name, and returner options for this run, as
        ``--return_config`` / ``--return_kwargs`` would give them.

    timeout
        Publish timeout in seconds, passed to Salt.

    collection
        Any ``vitals:`` collection option (``groups``, ``exclude_groups``, ``mounts``, ...),
        checked here and published to every minion when it differs from the default.

    CLI Example:

    .. code-block:: bash

        salt-run vitals.pollpush
        salt-run vitals.pollpush tgt='pi-*' returners=carbon,influxdb
        salt-run vitals.pollpush tgt=G@role:web tgt_type=compound samples=3 interval=5
        salt-run vitals.pollpush exclude_groups=temp,pi
    """
    given = {
        "tgt": tgt,
        "tgt_type": tgt_type,
        "returners": returners,
        "samples": samples,
        "interval": interval,
        "mode": mode,
        "ret_config": ret_config,
        "ret_kwargs": ret_kwargs,
        "timeout": timeout,
    }
    with salt_errors():
        settings = _master_settings(POLLPUSH_KEY)
        settings.update((k, v) for k, v in given.items() if v is not None)
        settings.update((k, v) for k, v in collection.items() if not k.startswith("__"))
        planned = publication(settings)
    publish = planned.client_kwargs()
    client = salt.client.LocalClient(mopts=__opts__)
    try:
        jid = client.cmd_async(**publish)
    finally:
        client.destroy()
    published = {k: v for k, v in publish.items() if k != "arg"}
    if not jid:
        log.warning("vitals.pollpush: no minion matched %r", planned.tgt)
        return {"jid": None, "published": published, "error": "no minion matched the target"}
    return {"jid": jid, "published": published}


def _master_settings(key: str) -> dict[str, Any]:
    """The master config dict ``key`` (a copy); ConfigError when it is not a dict, or when the
    settings still sit under ``vitals:`` where releases before 0.1.0 read them."""
    for moved in ("pollpush", "query"):
        if moved in (__opts__.get("vitals") or {}):
            raise ConfigError(f"vitals:{moved}", f"moved to the master config key vitals_{moved}")
    found = __opts__.get(key) or {}
    if not isinstance(found, dict):
        raise ConfigError(key, f"must be a dict of options, got {type(found).__name__}")
    return dict(found)


# -- reading it back -----------------------------------------------------------------------------
# Where to read from is ``vitals_query:`` in the master config (see docs/readback.md); only the
# backend may be chosen on the command line, credentials never.


def _read_back(action: Callable[["Reader", "Options"], Any], backend: Optional[str] = None) -> Any:
    """Run ``action(reader, opts)``; an error is one line and exit status 1, not a traceback."""
    from salt_ext.core.readback.options import QUERY_KEY, open_reader, read_options

    try:
        opts = read_options(_master_settings(QUERY_KEY), {"backend": backend})
        return action(open_reader(opts), opts)
    except VitalsError as exc:
        error = salt_exception(exc)
    log.error("vitals: %s", error)
    __context__["retcode"] = 1
    # salt-run exits with data["retcode"]; the outputter prints the one line
    return {
        "outputter": "vitals_top",
        "data": {"error": f"{type(error).__name__}: {error}", "retcode": 1},
    }


def top(
    tgt: str = "*", sort: str = "cpu", window: str = "15m", backend: Optional[str] = None
) -> Any:
    """
    One row per node from the metrics backend: latest CPU %, load1, memory %, swap %, fullest
    disk %, hottest temperature, throttled flag and the age of the newest point, with a
    sparkline of the window per column. Nodes whose newest point is older than
    ``vitals_query:stale_after`` (default 3m) are marked stale, never left out.

    Printed by the ``vitals_top`` outputter; ``--out=json`` / ``--out=yaml`` give the plain data.

    tgt
        Glob (or comma-separated globs) of node names as the backend stores them.

    sort
        ``cpu`` (default), ``load1``, ``mem``, ``swap``, ``disk``, ``temp`` (busiest first),
        ``age`` (oldest first) or ``node``.

    window
        Sparkline span: ``15m`` (default), ``1h``, ``90s``...

    backend
        ``graphite`` or ``influxdb`` instead of ``vitals_query:backend``.

    CLI Example:

    .. code-block:: bash

        salt-run vitals.top
        salt-run vitals.top tgt='pi-*' sort=temp window=1h
        salt-run vitals.top --out=json
    """
    from salt_ext.core.readback import views

    def action(reader: "Reader", opts: "Options") -> dict[str, Any]:
        table = views.top(reader, tgt, sort, window, opts["stale_after"])
        return {"outputter": "vitals_top", "data": table}

    return _read_back(action, backend)


def history(
    metric: str,
    tgt: str = "*",
    start: str = "-1h",
    end: str = "now",
    resample: str = "1m",
    agg: str = "mean",
    png: Optional[str] = None,
    backend: Optional[str] = None,
) -> Any:
    """
    Aligned buckets of one metric per node: ``times`` (bucket starts, Unix seconds) and one
    list of values per series, ``null`` where a node sent nothing. Graphite: render API
    ``summarize`` + ``consolidateBy``; InfluxDB: ``GROUP BY time() fill(null)``.

    metric
        ``<group>.<field>`` as ``vitals.current`` names it: ``cpu.percent``, ``load.load1``,
        ``disk.percent`` (one series per node and mount, ``node:mount``), ``cores.percent``.
        An unknown one is answered with the fields that exist.

    tgt
        Node name or glob.

    start, end
        ``-1h`` / ``now`` (default), ``-30m``, Unix seconds or ISO 8601 (``2026-11-25T06:00``,
        UTC unless an offset is given).

    resample, agg
        Bucket width (``1m``) and how a bucket folds its points: ``mean``, ``max``, ``min``,
        ``last``.

    png
        Graphite only: also save graphite-web's rendered graph to this path on the master.

    CLI Example:

    .. code-block:: bash

        salt-run vitals.history cpu.percent
        salt-run vitals.history disk.percent tgt=pi-01 start=-1d resample=1h agg=max
        salt-run vitals.history temp.celsius start=2026-11-25T00:00 end=2026-11-25T06:00
        salt-run vitals.history cpu.percent png=/tmp/cpu.png
    """
    from salt_ext.core.errors import QueryError
    from salt_ext.core.readback import views
    from salt_ext.core.readback.model import parse_metric

    def action(reader: "Reader", opts: "Options") -> dict[str, Any]:
        result = views.history(reader, metric, tgt, start, end, resample, agg)
        if png:
            if opts["backend"] != "graphite":
                raise QueryError("png: graphs are rendered by graphite-web (backend graphite)")
            nodes = sorted({name.split(":")[0] for name in result["series"]})
            size = cast("GraphiteReader", reader).png(
                parse_metric(metric),
                nodes,
                result["times"][0],
                result["until"],
                result["resample"],
                agg,
                png,
            )
            result["png"] = {"path": str(png), "bytes": size}
        return result

    return _read_back(action, backend)


def least_loaded(
    n: int = 1,
    tgt: str = "*",
    by: str = "score",
    window: str = "5m",
    details: bool = False,
    backend: Optional[str] = None,
) -> Any:
    """
    The ``n`` nodes with the most headroom over the window (means, not one reading), stale
    nodes left out, as a list usable as a Salt list target: printed comma-separated
    (``salt -L "$(salt-run vitals.least_loaded)" ...``), a JSON list with ``--out=json``.

    by
        ``score`` (default: 0.5 CPU % + 0.3 memory % + 0.2 load1 per core as %), ``cpu``,
        ``mem`` or ``load`` (load1 per core).

    details
        Return the measured loads and the stale nodes as well.

    CLI Example:

    .. code-block:: bash

        salt-run vitals.least_loaded
        salt-run vitals.least_loaded n=3 tgt='build-*' by=cpu window=15m
        salt -L "$(salt-run vitals.least_loaded)" cmd.run 'make -j4'
    """
    from salt_ext.core.readback import views

    def action(reader: "Reader", opts: "Options") -> Any:
        result = views.least_loaded(reader, n, tgt, by, window, opts["stale_after"])
        # printed comma-separated, ready for ``salt -L``; --out=json gives the list
        return result if details else {"outputter": "vitals_top", "data": result["nodes"]}

    return _read_back(action, backend)


def file_root(write: bool = False, conf_dir: Optional[str] = None) -> Any:
    """
    The directory of the bundled SLS tree (``graphite``, ``influxdb``, ``vitals.agent``,
    ``vitals.master``, ``pillar.example``) as installed with the package, to add to the
    master's ``file_roots``.

    write
        Also write ``<conf_dir>/master.d/vitals-file-roots.conf``: the master's current
        ``file_roots`` (every environment) with this directory appended to ``base``.
        Restart the master afterwards.

    conf_dir
        The master's configuration directory (default: the running master's).

    CLI Example:

    .. code-block:: bash

        salt-run vitals.file_root
        salt-run vitals.file_root write=True
    """
    if not write:
        return sls_tree.sls_root()
    path = sls_tree.write_file_roots(__opts__, conf_dir or "")
    return {"file_root": sls_tree.sls_root(), "written": path}
