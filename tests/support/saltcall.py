"""``salt-call --local`` against the installed SLS tree: Salt's real renderer and state system
with no daemon, a throwaway config, pillar and (optionally) grains overriding the core ones."""

import json
import subprocess
import sys
from pathlib import Path

import salt_ext

SLS_ROOT = Path(salt_ext.__file__).parent / "sls"


def salt_call(root, pillar, *args, grains=None, minion_id="sls-host", secrets=(), timeout=180):
    """(returncode, the ``local`` return) of ``salt-call --local <args>`` with ``pillar`` as
    the whole pillar; ``root`` is a scratch directory (config, cache, log). Fails if any of
    ``secrets`` is in the output."""
    conf = root / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (root / "pillar").mkdir(exist_ok=True)
    (root / "pillar" / "top.sls").write_text("base:\n  '*':\n    - data\n")
    (root / "pillar" / "data.sls").write_text(json.dumps(pillar))
    config = {
        "id": minion_id,
        "root_dir": str(root),
        "file_client": "local",
        "file_roots": {"base": [str(SLS_ROOT)]},
        "pillar_roots": {"base": [str(root / "pillar")]},
        "log_file": str(root / "minion.log"),
    }
    if grains:
        config["grains"] = grains
    (conf / "minion").write_text(json.dumps(config))
    script = Path(sys.executable).parent / "salt-call"
    done = subprocess.run(
        [str(script), "--local", "-c", str(conf), "--out=json", "--retcode-passthrough", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for secret in secrets:
        assert secret not in done.stdout + done.stderr
    try:
        return done.returncode, json.loads(done.stdout)["local"]
    except (ValueError, KeyError):
        output = f"{done.returncode}\n{done.stdout}\n{done.stderr}"
        raise AssertionError(f"salt-call {args}: {output}") from None
