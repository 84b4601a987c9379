"""
Node vitals: CPU, load, memory, swap, filesystems, disk and network IO rates, temperatures,
CPU frequency, uptime, process count and Raspberry Pi throttling flags, read with psutil.

Every value is a number; the keys are documented in ``docs/metrics.md`` and stay stable. Rates
(CPU percentages included) come from the previous collection's counters, kept between jobs on a
tmpfs (else under the minion cachedir), so they are right inside Salt's forked job processes.

Configuration: one ``vitals:`` dict in the minion config or pillar, for example::

    vitals:
      exclude_groups: [temp]
      exclude_mounts: ['/snap/*']
      exclude_interfaces: [lo, 'docker*', 'veth*']

Any option can also be given per call (``salt '*' vitals.current exclude_groups=temp``).
"""

import logging
import os
from typing import Any, Optional

import salt.loader

from salt_ext.core.collect import collection
from salt_ext.core.collect.baseinfo import baseinfo as read_baseinfo
from salt_ext.core.config import salt_config
from salt_ext.core.delivery.returner import deliver_return, spool_root
from salt_ext.core.delivery.spool import Spool
from salt_ext.core.jobs import push as jobs
from salt_ext.translate import salt_errors

log = logging.getLogger(__name__)

__salt__: dict[str, Any]
__opts__: dict[str, Any]
__context__: dict[str, Any]

__virtualname__ = "vitals"


def __virtual__() -> str:
    return __virtualname__


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    config_get = salt_config(__salt__, "config.get") or __salt__["config.get"]
    return collection.validate_options(collection.configured(config_get, kwargs))


def _state_dir() -> str:
    return os.path.join(__opts__["cachedir"], "vitals")


def current(samples: Any = 1, interval: Any = None, **kwargs: Any) -> dict[str, Any]:
    """
    Return the node's vitals now, as a nested dict of numbers with a ``ts`` collection time.

    samples
        Collect this many times and return one summary: float gauges become their mean plus a
        ``<name>_var`` variance, sizes and counts their latest value. Default 1.

    interval
        Seconds between two readings used for rates. By default rates are computed against the
        previous collection on this minion (or a 0.5 s in-process window on the first run).
        With ``samples`` > 1 it is the spacing of the samples (default 1).

    Any ``vitals:`` option may be given as a keyword (``exclude_groups=temp,pi``).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals.current
        salt '*' vitals.current samples=5 interval=2
        salt '*' vitals.current groups=cpu,mem,load
    """
    with salt_errors():
        options = _options(kwargs)
        samples, interval = collection.parse_window(samples, interval)
        return collection.collect_vitals(options, _state_dir(), samples, interval)


def baseinfo() -> dict[str, Any]:
    """
    Return facts that rarely change: cores, CPU model, RAM and swap size, filesystem sizes,
    Raspberry Pi model, kernel, OS and architecture.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals.baseinfo
    """
    return read_baseinfo()


def push(
    returners: Any = jobs.PUSH_DEFAULTS["returners"],
    samples: Any = jobs.PUSH_DEFAULTS["samples"],
    interval: Any = None,
    ret_config: Optional[str] = None,
    ret_kwargs: Optional[dict[str, Any]] = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """
    Collect the vitals and hand them to returners on this minion; return only a small receipt.

    This is what ``salt-run vitals.pollpush`` publishes: the payload goes from the minion
    straight to Graphite/InfluxDB and never through the master, whose job cache receives a few
    dozen bytes per minion whatever the number of metrics.

    returners
        Comma-separated returner names (``carbon``, ``influxdb``, ``carbon,influxdb``). Ours
        are called directly; any other name goes through Salt's returner loader.

    samples, interval
        As for :py:func:`current`.

    ret_config, ret_kwargs
        Passed to the returners as ``--return_config`` / ``--return_kwargs`` would be.

    CLI Example:

    .. code-block:: bash

        salt '*' vitals.push
        salt '*' vitals.push returners=carbon,influxdb samples=3 interval=5
    """
    with salt_errors():
        names = jobs.returner_names(returners)
    data = current(samples=samples, interval=interval, **kwargs)
    ret = jobs.job_return(
        __opts__["id"], data, kwargs.get("__pub_jid", "req"), ret_config, ret_kwargs
    )
    loaded = None
    results: dict[str, object] = {}
    for name in names:
        if name in jobs.BACKENDS:
            # What our returner module would do, without building a returner loader (~2 ms).
            results[name] = deliver_return(jobs.BACKENDS[name], ret, __salt__, __opts__)
            continue
        if loaded is None:
            loaded = salt.loader.returners(__opts__, __salt__)
        func = f"{name}.returner"
        results[name] = loaded[func](ret) if func in loaded else jobs.UNAVAILABLE
    receipt, ok = jobs.receipt(data["ts"], results)
    if not ok:
        __context__["retcode"] = 1
    return receipt


def spool(returner: Optional[str] = None) -> dict[str, Any]:
    """
    Show what waits in the delivery spools on this minion, and what was ever dropped.

    returner
        Limit to one returner (``carbon`` or ``influxdb``).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals.spool
        salt '*' vitals.spool carbon
    """
    root = spool_root(__opts__["cachedir"])
    out: dict[str, Any] = {}
    if not os.path.isdir(root):
        return out
    for entry in sorted(os.listdir(root)):
        if returner and not entry.startswith(f"{returner}-"):
            continue
        out[entry] = Spool(os.path.join(root, entry)).status()
    return out
