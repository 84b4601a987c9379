"""``vitals.push`` in plain Python: what the minion hands to its returners, and the receipt it
returns instead of the payload (:mod:`salt_ext.core.jobs.pollpush` is what the master
publishes).

``vitals.push`` collects on the minion, wraps the vitals in the synthetic job return a returner
would get from ``salt '*' vitals.current --return ...`` (:func:`job_return`), calls each returner
itself and sends back only :func:`receipt`: a few dozen bytes per minion, however many disks,
cores and interfaces the node has, for example::

    {"ts": 1732240000, "points": 74, "carbon": "sent", "influxdb": "spooled: <reason>"}
"""

from collections.abc import Mapping
from typing import Any, Optional

from salt_ext.core.delivery.delivery import DeliveryResult
from salt_ext.core.delivery.returner import Backend
from salt_ext.core.errors import ConfigError
from salt_ext.core.graphite.carbon import BACKEND as CARBON
from salt_ext.core.influxdb.write import BACKEND as INFLUXDB

# What ``vitals.push`` does when published without arguments; ``vitals.pollpush`` leaves these
# out of the publication, since every argument is echoed back in each minion's return load.
PUSH_DEFAULTS: dict[str, Any] = {"returners": "carbon", "samples": 1}


# Our returners, called by ``vitals.push`` and the push beacon without a returner loader.
BACKENDS: dict[str, Backend] = {"carbon": CARBON, "influxdb": INFLUXDB}


def backend(name: str) -> Backend:
    """The :class:`~salt_ext.core.delivery.returner.Backend` of our returner ``name``."""
    return BACKENDS[name]


class Unavailable:
    """Stands for a returner that is not loaded on the minion, in :func:`receipt`."""

    text = "error: returner not available"


UNAVAILABLE = Unavailable()


def returner_names(returners: object, key: str = "returners") -> list[str]:
    """``"carbon, influxdb"`` -> ``["carbon", "influxdb"]``; at least one name."""
    names = [name.strip() for name in str(returners or "").split(",") if name.strip()]
    if not names:
        raise ConfigError(key, "name at least one returner")
    return names


def job_return(
    minion: str,
    vitals: dict[str, Any],
    jid: str = "req",
    ret_config: Optional[str] = None,
    ret_kwargs: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """The job return of ``vitals.current`` carrying ``vitals``, as Salt would hand it to a
    returner; ``ret_config`` / ``ret_kwargs`` as ``--return_config`` / ``--return_kwargs``."""
    ret: dict[str, Any] = {
        "id": minion,
        "fun": "vitals.current",
        "fun_args": [],
        "jid": jid,
        "return": vitals,
        "retcode": 0,
        "success": True,
    }
    if ret_config:
        ret["ret_config"] = ret_config
    if ret_kwargs:
        ret["ret_kwargs"] = ret_kwargs
    return ret


def outcome(result: object) -> str:
    """One returner's line of the receipt: ``sent``, ``spooled: <error>``, ``dropped: ...``;
    ``called`` for a returner that is not ours (it returns no :class:`DeliveryResult`)."""
    if isinstance(result, Unavailable):
        return result.text
    if not isinstance(result, DeliveryResult):
        return "called"
    return result.status if not result.error else f"{result.status}: {result.error}"


def receipt(ts: float, results: Mapping[str, object]) -> tuple[dict[str, Any], bool]:
    """The receipt for one push and whether every returner delivered everything.

    ``results`` maps each returner name, in the order called, to what its ``returner``
    function returned, or :data:`UNAVAILABLE`. ``points`` is the point count of the return.
    """
    out: dict[str, Any] = {"ts": int(ts)}
    ok = True
    for name, result in results.items():
        if isinstance(result, DeliveryResult):
            out["points"] = result.points
            ok = ok and result.status == "sent"
        elif isinstance(result, Unavailable):
            ok = False
        out[name] = outcome(result)
    return out, ok
