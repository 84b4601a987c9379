"""Run with another Salt's interpreter: load our modules, runner and returners through that
Salt's loader and print, as JSON, which files serve ``carbon`` and ``influxdb``."""

import json
import os
import tempfile

import salt.config
import salt.loader
import salt.version

root = tempfile.mkdtemp()
opts = salt.config.minion_config(None)
opts.update(
    {
        "root_dir": root,
        "cachedir": os.path.join(root, "cache"),
        "pki_dir": os.path.join(root, "pki"),
        "file_client": "local",
        "id": "compat-minion",
        "sock_dir": os.path.join(root, "sock"),
    }
)
opts["grains"] = salt.loader.grains(opts)
funcs = salt.loader.minion_mods(opts)
rets = salt.loader.returners(opts, funcs)
data = funcs["vitals.current"](groups="cpu,mem,load")
out = {
    "salt": salt.version.__version__,
    "groups": sorted(data),
    "carbon_file": rets["carbon.returner"].__globals__.get("__file__"),
    "influxdb_file": rets["influxdb.returner"].__globals__.get("__file__"),
    "vitals_file": funcs["vitals.current"].__globals__.get("__file__"),
    "runner": "vitals.pollpush"
    in salt.loader.runner(
        salt.config.master_config(None) | {"cachedir": os.path.join(root, "mcache")}, utils={}
    ),
}
print(json.dumps(out))
