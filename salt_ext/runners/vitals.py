"""
Master-side vitals runner: ``salt-run vitals.pollpush`` publishes the collection to the minions
and returns at once; each minion sends its own vitals straight to Graphite/InfluxDB.

Defaults come from the master config, overridable on the command line::

    vitals:
      pollpush:
        tgt: '*'
        tgt_type: glob
        returners: carbon          # or carbon,influxdb
        samples: 1

Run it from the master ``schedule:`` (see ``examples/master.d/vitals.conf``)::

    schedule:
      vitals-pollpush:
        function: vitals.pollpush
        seconds: 60
"""

import logging

import salt.client
from salt.exceptions import SaltInvocationError

from salt_ext.core.config import Option, parse
from salt_ext.core.errors import ConfigError
from salt_ext.core.push import PUSH_DEFAULTS

log = logging.getLogger(__name__)

__virtualname__ = "vitals"

POLLPUSH_OPTIONS = {
    "tgt": Option("str", "*"),
    "tgt_type": Option(
        "str",
        "glob",
        choices=(
            "glob",
            "pcre",
            "list",
            "grain",
            "grain_pcre",
            "pillar",
            "pillar_pcre",
            "nodegroup",
            "range",
            "compound",
            "ipcidr",
        ),
    ),
    "returners": Option("str", "carbon"),
    "samples": Option("int", 1, minimum=1),
    "interval": Option("float", None, minimum=0.01),
    "mode": Option("str", "push", choices=("push", "return")),
    "ret_config": Option("str", None),
    "ret_kwargs": Option("dict", {}, doc="returner options for this run (--return_kwargs)"),
    "timeout": Option("int", None, minimum=1, doc="publish timeout passed to Salt"),
}


def __virtual__():
    return __virtualname__


def pollpush(**kwargs):
    """
    Publish the vitals collection to the minions asynchronously and return at once.

    Returns the jid and what was published; it never waits for minions. Each minion runs
    ``vitals.push``, which collects and calls the returners on the minion itself, so only a
    small receipt reaches the master's job cache.

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

    CLI Example:

    .. code-block:: bash

        salt-run vitals.pollpush
        salt-run vitals.pollpush tgt='pi-*' returners=carbon,influxdb
        salt-run vitals.pollpush tgt=G@role:web tgt_type=compound samples=3 interval=5
    """
    configured = dict((__opts__.get("vitals") or {}).get("pollpush") or {})
    configured.update({k: v for k, v in kwargs.items() if not k.startswith("__")})
    try:
        opts = parse("vitals:pollpush", configured, POLLPUSH_OPTIONS)
    except ConfigError as exc:
        raise SaltInvocationError(str(exc)) from None
    returners = ",".join(n.strip() for n in opts["returners"].split(",") if n.strip())
    if not returners:
        raise SaltInvocationError("vitals:pollpush:returners: name at least one returner")
    collection = {"samples": opts["samples"]}
    if opts["interval"] is not None:
        collection["interval"] = opts["interval"]
    publish = {"tgt": opts["tgt"], "tgt_type": opts["tgt_type"]}
    if opts["timeout"]:
        publish["timeout"] = opts["timeout"]
    returner_settings = {k: opts[k] for k in ("ret_config", "ret_kwargs") if opts[k]}
    if opts["mode"] == "push":
        fun, ret = "vitals.push", ""
        collection["returners"] = returners
        collection.update(returner_settings)
        # every argument comes back in each minion's return load: publish only non-defaults
        collection = {k: v for k, v in collection.items() if PUSH_DEFAULTS.get(k) != v}
    else:
        fun, ret = "vitals.current", returners
        publish.update(returner_settings)
    client = salt.client.LocalClient(mopts=__opts__)
    try:
        jid = client.cmd_async(fun=fun, arg=[], kwarg=collection, ret=ret, **publish)
    finally:
        client.destroy()
    published = {"fun": fun, "kwarg": collection, "ret": ret, **publish}
    if not jid:
        log.warning("vitals.pollpush: no minion matched %r", opts["tgt"])
        return {"jid": None, "published": published, "error": "no minion matched the target"}
    return {"jid": jid, "published": published}
