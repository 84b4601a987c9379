"""A minion's loader in the bench process: the opts, grains and logging a running salt-minion
has, so that loader modules are timed as Salt calls them. Works under any Salt the bench runs
(ours and the Salt 3007 venv of ``bench/carbon_vs_salt3007.py``)."""

import logging
import sys


def minion_opts(cachedir, **config):
    """A minion config (Salt's defaults, ``config`` on top: e.g. ``carbon={...}``) with real
    grains, and logging as :func:`minion_logging` sets it."""
    import salt.config
    import salt.loader

    opts = salt.config.minion_config(None)
    opts.update(
        id="bench-minion.example.com",
        cachedir=cachedir,
        file_client="local",
        enable_fqdns_grains=False,
        enable_gpu_grains=False,
        **config,
    )
    opts["grains"] = salt.loader.grains(opts)
    minion_logging(opts)
    return opts


def minion_logging(opts):
    """Logging at the minion's configured level, as a running minion has it (``warning`` by
    default). Left unconfigured, Salt's deferred start-up handler sits at level 1, so every
    ``log.trace``/``log.debug`` call builds and keeps a record: ~20 us each, ~70 per return in
    Salt 3007's carbon returner, which would inflate its time several-fold."""
    import salt._logging.impl

    salt._logging.impl.set_lowest_log_level_by_opts(opts)
    if logging.getLogger("salt").isEnabledFor(logging.INFO):
        sys.exit(f"logging still at {logging.getLogger().level}")
