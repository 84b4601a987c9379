"""The README's install check, run for real: ``salt-call --local sys.list_functions vitals`` from
the installed wheel prints exactly the list the README shows."""

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent.parent / "README.md"
SALT_CALL = Path(sys.executable).parent / "salt-call"


def _readme_listing():
    block = re.search(
        r"\$ salt-call --local sys.list_functions vitals\nlocal:\n((?:    - \S+\n)+)",
        README.read_text(encoding="utf-8"),
    )
    assert block, "README lost its install check"
    return re.findall(r"    - (\S+)", block.group(1))


def test_salt_call_lists_what_the_readme_shows(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "minion").write_text(f"root_dir: {tmp_path}\nfile_client: local\nid: check\n")
    out = subprocess.run(
        [str(SALT_CALL), "--local", "-c", str(conf), "--out=json", "sys.list_functions", "vitals"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    assert json.loads(out.stdout)["local"] == _readme_listing()
