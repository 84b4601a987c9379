"""
Threshold events on the Salt event bus from the node's vitals, and a push mode that delivers
the vitals to the returners from inside the minion, with no job.

Rules watch a metric of ``vitals.current`` (a dotted path, ``*`` matching any key at its level;
the worst match counts) and fire one event when they trip and one when they clear:

.. code-block:: yaml

    beacons:
      vitals:
        - interval: 10
        - disable_during_state_run: true
        - rules:
            hot:    {metric: temp.*.celsius, above: 80, clear: 75, for: 30, severity: critical}
            power:  {metric: pi.under_voltage, above: 0}
            rootfs: {metric: disk./.percent, above: 90, clear: 85}
            busy:   {metric: cpu.percent, above: 95, clear: 80, for: 60}

Events are tagged ``salt/beacon/<minion>/vitals/<rule>/tripped`` and ``.../cleared``.

Push mode collects every enabled group and hands it to the returners off the beacon's path
(one delivery in flight per returner, the returners' spool when the backend is down); nothing
reaches the master per cycle:

.. code-block:: yaml

    beacons:
      vitals:
        - interval: 10
        - push: {returners: carbon}     # any returner option, as for --return_kwargs

Collection options come from ``vitals:`` in the minion config or pillar, as for
``vitals.current``. See ``docs/beacon.md``.
"""

import logging
from typing import Any

from salt.loader.context import NamedLoaderContext

from salt_ext.core.beacon import beacon as core
from salt_ext.core.collect.collection import configured
from salt_ext.core.config import salt_config
from salt_ext.core.errors import VitalsError

log = logging.getLogger(__name__)

__salt__: dict[str, Any]
__opts__: dict[str, Any]

__virtualname__ = "vitals"


def __virtual__() -> str:
    return __virtualname__


def validate(config: Any) -> tuple[bool, str]:
    """
    Validate the beacon configuration; returns ``(valid, message)``, the message naming the bad
    key (``beacons:vitals:rules:hot:above: expected a number, got 'hot'``).

    CLI Example:

    .. code-block:: bash

        salt '*' beacons.add vitals "[{'rules': {'busy': {'metric': 'cpu.percent', 'above': 95}}}]"
    """
    try:
        core.parse_config(config)
    except VitalsError as exc:
        return False, str(exc)
    return True, "Valid beacon configuration"


def beacon(config: Any) -> list[dict[str, Any]]:
    """
    Collect the vitals once: return one event per rule that tripped or cleared since the last
    interval, and queue the collection for the returners in push mode.

    CLI Example:

    .. code-block:: bash

        salt-run state.event 'salt/beacon/*/vitals/*' pretty=True
    """
    parsed = core.parse_config(config)
    raw = configured(salt_config(__salt__, "config.get") or __salt__["config.get"])
    running = core.beacon_for(parsed.name, _concrete(__salt__), _concrete(__opts__))
    return running.run(parsed, raw)


def close(config: Any) -> None:
    """
    Salt closes the beacon (``beacons.delete``, a beacon refresh, a state run with
    ``disable_during_state_run``): in push mode, what waits in memory for a delivery in flight
    is written to the returners' spool. On SIGTERM Salt calls no beacon function; the push
    mode then spools at the exit of the minion process (see ``docs/beacon.md``).

    CLI Example:

    .. code-block:: bash

        salt '*' beacons.delete vitals
    """
    try:
        name = core.parse_config(config).name
    except VitalsError:
        return
    spooled = core.close(name)
    if spooled:
        log.info("vitals beacon %s closed: spooled %d collection(s) held in memory", name, spooled)


def _concrete(dunder: Any) -> Any:
    # Salt's dunders resolve through a context variable that the delivery threads do not
    # inherit: hand them the objects themselves.
    return dunder.value() if isinstance(dunder, NamedLoaderContext) else dunder
