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
        exclude_groups: [temp]     # any vitals: collection option, for every minion

Run it from the master ``schedule:`` (see ``examples/master.d/vitals.conf``)::

    schedule:
      vitals-pollpush:
        function: vitals.pollpush
        seconds: 60
"""

import logging

import salt.client
from salt.exceptions import SaltInvocationError

from salt_ext.core import push as core_push
from salt_ext.core.errors import ConfigError

log = logging.getLogger(__name__)

__virtualname__ = "vitals"


def __virtual__():
    return __virtualname__


def pollpush(
    tgt=None,
    tgt_type=None,
    returners=None,
    samples=None,
    interval=None,
    mode=None,
    ret_config=None,
    ret_kwargs=None,
    timeout=None,
    **collection,
):
    """
    Publish the vitals collection to the minions asynchronously and return at once.

    Returns the jid and what was published; it never waits for minions. Each minion runs
    ``vitals.push``, which collects and calls the returners on the minion itself, so only a
    small receipt reaches the master's job cache. Every argument left out comes from the master
    config ``vitals:pollpush:``, then from the defaults below.

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
    settings = dict((__opts__.get("vitals") or {}).get("pollpush") or {})
    settings.update((k, v) for k, v in given.items() if v is not None)
    settings.update((k, v) for k, v in collection.items() if not k.startswith("__"))
    try:
        publication = core_push.publication(settings)
    except ConfigError as exc:
        raise SaltInvocationError(str(exc)) from None
    publish = publication.client_kwargs()
    client = salt.client.LocalClient(mopts=__opts__)
    try:
        jid = client.cmd_async(**publish)
    finally:
        client.destroy()
    published = {k: v for k, v in publish.items() if k != "arg"}
    if not jid:
        log.warning("vitals.pollpush: no minion matched %r", publication.tgt)
        return {"jid": None, "published": published, "error": "no minion matched the target"}
    return {"jid": jid, "published": published}


def file_root(write=False, conf_dir=None):
    """
    The directory of the bundled SLS tree (``graphite``, ``influxdb``, ``vitals.agent``,
    ``vitals.master``, ``pillar.example``) as installed with the package, to add to the
    master's ``file_roots``.

    write
        Also write ``<conf_dir>/master.d/vitals-file-roots.conf``: the master's current
        ``base`` roots plus this directory. Restart the master afterwards.

    conf_dir
        The master's configuration directory (default: the running master's).

    CLI Example:

    .. code-block:: bash

        salt-run vitals.file_root
        salt-run vitals.file_root write=True
    """
    import os

    import salt.utils.files
    import salt.utils.yaml

    import salt_ext

    root = os.path.join(os.path.dirname(os.path.abspath(salt_ext.__file__)), "sls")
    if not write:
        return root
    conf_dir = conf_dir or os.path.dirname(__opts__["conf_file"])
    base = [r for r in (__opts__.get("file_roots") or {}).get("base") or [] if r != root]
    path = os.path.join(conf_dir, "master.d", "vitals-file-roots.conf")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with salt.utils.files.fopen(path, "w") as handle:
        handle.write("# written by salt-run vitals.file_root write=True\n")
        salt.utils.yaml.safe_dump({"file_roots": {"base": base + [root]}}, handle)
    return {"file_root": root, "written": path}
