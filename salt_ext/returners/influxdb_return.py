"""Send job returns to InfluxDB (1.x, 2.x, 3.x) or VictoriaMetrics: ``--return influxdb``.

Every numeric value of the return becomes a field in InfluxDB line protocol: the measurement is
the vitals group (``cpu``, ``mem``, ``disk``, ...) or the function name for other functions,
tags are ``host`` (the minion id), the group's own tag (``path``, ``interface``, ...) and the
configured ``tags``. ``vitals.current`` returns keep their collection time. One HTTP request
per return; a dead server costs at most ``timeout`` seconds per URL, and undeliverable points
are spooled under the minion cachedir and replayed by the next successful job. How names are
escaped is documented in :mod:`salt_ext.core.influxdb.line_protocol`.

InfluxDB 1.x (the database, and the retention policy when ``retention_duration`` is set, are
created on first use if missing; that needs an admin user)::

    influxdb:
      url: https://influx.example.com:8086   # or urls: [...] for failover
      db: salt
      user: salt
      password: s3cret
      precision: s                           # s, ms, us or ns
      retention_duration: 90d                # optional
      tags:
        rack: r2
      grain_tags: [role]                     # tag every point with the role grain

InfluxDB 2.x (or VictoriaMetrics' ``/api/v2/write``; the bucket must exist)::

    influxdb:
      api: v2
      url: https://influx.example.com:8086
      org: example
      bucket: salt
      token: xxxxxxxx

InfluxDB 3 uses ``api: v3`` with ``db`` and ``token``. Other options: ``rp``, ``verify``
(default true; false logs one warning), ``ca_bundle``, ``gzip`` (default true),
``create_database``, ``retention_name``, ``retention_replication``, ``timeout``, ``order``,
``spool``, ``spool_max_bytes``, ``spool_max_age``, ``replay_max_bytes``.

Named profiles work with ``ret_config`` (``alternative.influxdb.url``) and any option can be
given per job with ``--return_kwargs '{"db": "lab"}'``. The file is named
``influxdb_return.py`` like Salt's own, so that this one shadows it deterministically.
"""

from typing import Any

from salt_ext.core.delivery.delivery import DeliveryResult
from salt_ext.core.delivery.returner import deliver_return
from salt_ext.core.influxdb.write import BACKEND

__salt__: dict[str, Any]
__opts__: dict[str, Any]

__virtualname__ = "influxdb"


def __virtual__() -> str:
    return __virtualname__


def returner(ret: dict[str, Any]) -> DeliveryResult:
    """
    Send the numeric values of one job return to InfluxDB; never raises.

    Returns a :class:`~salt_ext.core.delivery.delivery.DeliveryResult` (Salt ignores it;
    ``vitals.push`` turns it into its receipt).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals.current --return influxdb
        salt '*' status.loadavg --return influxdb --return_kwargs '{"db": "lab"}'
    """
    return deliver_return(BACKEND, ret, __salt__, __opts__)
