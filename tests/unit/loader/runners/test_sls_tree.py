"""core/sls_tree: the installed SLS tree and the master.d file that adds it to file_roots
(``salt-run vitals.file_root``; the real runner is exercised in tests/integration/stack)."""

import os
from pathlib import Path

import salt.config
import salt.utils.yaml

import salt_ext
from salt_ext.runners import _sls_tree as sls_tree


def test_the_tree_is_the_installed_package_s_sls_dir():
    root = Path(sls_tree.sls_root())
    assert root == Path(salt_ext.__file__).resolve().parent / "sls"
    assert "site-packages" in root.parts  # the installed wheel, not the checkout's states/
    for sls in ("graphite/init.sls", "influxdb/init.sls", "vitals/agent.sls", "pillar.example"):
        assert (root / sls).is_file(), sls


def test_file_roots_keep_the_master_s_own_first_and_the_tree_once():
    root = sls_tree.sls_root()
    opts = {"file_roots": {"base": ["/srv/salt", root], "dev": ["/srv/dev"]}}
    assert sls_tree.file_roots_with_sls(opts) == {
        "file_roots": {"base": ["/srv/salt", root], "dev": ["/srv/dev"]}
    }
    assert sls_tree.file_roots_with_sls({}) == {"file_roots": {"base": [root]}}


def test_salt_reads_the_written_file_with_every_environment_kept(tmp_path):
    conf_file = tmp_path / "master"
    conf_file.write_text("file_roots:\n  base: [/srv/salt]\n  dev: [/srv/dev]\n")
    before = salt.config.master_config(str(conf_file))
    sls_tree.write_file_roots(before)
    after = salt.config.master_config(str(conf_file))
    assert after["file_roots"] == {
        "base": ["/srv/salt", sls_tree.sls_root()],
        "dev": ["/srv/dev"],
    }


def test_write_goes_to_master_d_of_the_master_s_conf_dir(tmp_path):
    conf_file = tmp_path / "etc" / "master"
    opts = {"conf_file": str(conf_file), "file_roots": {"base": ["/srv/salt"]}}
    path = sls_tree.write_file_roots(opts)
    assert path == str(tmp_path / "etc" / "master.d" / "vitals-file-roots.conf")
    data = salt.utils.yaml.safe_load(Path(path).read_text())
    assert data == {"file_roots": {"base": ["/srv/salt", sls_tree.sls_root()]}}
    other = tmp_path / "other"
    assert sls_tree.write_file_roots(opts, str(other)) == os.path.join(
        other, "master.d", "vitals-file-roots.conf"
    )
