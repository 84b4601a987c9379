"""Send job returns to Graphite's carbon: ``--return carbon`` / ``ret=carbon``.

Every numeric value of the return becomes one metric; ``vitals.current`` returns keep their
collection time, other functions are flattened generically. A dead carbon host costs at most
``timeout`` seconds per destination; undeliverable points are spooled under the minion
cachedir and replayed by the next successful job.

Configure in the minion config or pillar (all optional)::

    carbon:
      host: graphite.example.com   # or hosts: [a:2003, b:2003] for failover
      port: 2003
      mode: text                   # or pickle (port 2004 by default)
      prefix: vitals
      timeout: 5

Named profiles work with ``ret_config`` (``alternative.carbon.host``) and any option can be
given per job with ``--return_kwargs '{"prefix": "lab"}'``. The file is named
``carbon_return.py`` like Salt 3007's own, so that this one shadows it deterministically.
"""

from typing import Any

from salt_ext.core.delivery.delivery import DeliveryResult
from salt_ext.core.delivery.returner import deliver_return
from salt_ext.core.graphite.carbon import BACKEND

__salt__: dict[str, Any]
__opts__: dict[str, Any]

__virtualname__ = "carbon"


def __virtual__() -> str:
    return __virtualname__


def returner(ret: dict[str, Any]) -> DeliveryResult:
    """
    Send the numeric values of one job return to carbon; never raises.

    Returns a :class:`~salt_ext.core.delivery.delivery.DeliveryResult` (Salt ignores it;
    ``vitals.push`` turns it into its receipt).

    CLI Example:

    .. code-block:: bash

        salt '*' vitals.current --return carbon
        salt '*' status.loadavg --return carbon --return_kwargs '{"prefix": "lab"}'
    """
    return deliver_return(BACKEND, ret, __salt__, __opts__)
