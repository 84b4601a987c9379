"""Where the bundled SLS tree is installed, and the master.d file that adds it to the master's
``file_roots`` (``salt-run vitals.file_root``).

The wheel ships the top-level ``states/`` directory as ``salt_ext/sls/``; it has no
``__init__.py`` (it is not a Python package), so it is found next to this package.
"""

import os
from collections.abc import Mapping
from typing import Any

import salt.utils.files
import salt.utils.yaml

CONF_NAME = "vitals-file-roots.conf"


def sls_root() -> str:
    """The installed SLS tree: ``<site-packages>/salt_ext/sls``."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sls")


def file_roots_with_sls(master_opts: Mapping[str, Any]) -> dict[str, Any]:
    """``{"file_roots": {...}}``: every environment of the master's current ``file_roots``, with
    the SLS tree appended to ``base`` (once, last, so an operator's own ``graphite/`` wins).

    Salt replaces ``file_roots`` wholesale with a ``master.d`` file's (``default_include`` is a
    shallow update), so environments this file did not repeat would be dropped.
    """
    root = sls_root()
    roots = {env: list(paths or []) for env, paths in (master_opts.get("file_roots") or {}).items()}
    roots["base"] = [r for r in roots.get("base", []) if r != root] + [root]
    return {"file_roots": roots}


def write_file_roots(master_opts: Mapping[str, Any], conf_dir: str = "") -> str:
    """Write ``<conf_dir>/master.d/vitals-file-roots.conf`` (conf_dir: the master's own by
    default) with :func:`file_roots_with_sls`; its path."""
    conf_dir = conf_dir or os.path.dirname(master_opts["conf_file"])
    path = os.path.join(conf_dir, "master.d", CONF_NAME)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with salt.utils.files.fopen(path, "w") as handle:
        handle.write("# written by salt-run vitals.file_root write=True\n")
        salt.utils.yaml.safe_dump(file_roots_with_sls(master_opts), handle)
    return path
