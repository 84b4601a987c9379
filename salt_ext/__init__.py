"""salt-vitals: node vitals from a Salt fleet into Graphite and InfluxDB.

Salt finds ``modules/``, ``runners/`` and ``returners/`` inside this package through the
``salt.loader`` entry point. Everything those loader modules share lives in
:mod:`salt_ext.core`, plain Python with no Salt dunders.

Importing this package (Salt does it once, when a daemon builds its loaders) also imports the
core modules a ``vitals.push`` job needs. A salt-minion runs every job in a process forked from
its main process, where Salt loads our loader modules afresh; with the core already imported
there, each job inherits it instead of importing it again (``bench/push_cpu.py``: ~15 ms of
minion CPU per cycle).
"""

import contextlib
import importlib

__version__ = "0.1.0"

_JOB_MODULES = (  # what the vitals loader module imports
    "salt_ext.core.collect.baseinfo",
    "salt_ext.core.collect.collection",
    "salt_ext.core.delivery.spool",
    "salt_ext.core.jobs.push",  # and with it our returners' backends
    "salt_ext.translate",
)

for _name in _JOB_MODULES:
    # Only a head start: a failure here surfaces, with its real error, when the job imports it.
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)
