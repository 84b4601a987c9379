"""A Salt syndic topology: a master of masters, one syndic, minions behind the syndic.

``salt-run vitals.pollpush`` on the top master reaches every minion behind the syndic; their
points land in the carbon-caches behind the relays; their receipts come back through the syndic
into the top master's job cache (``jobs.lookup_jid`` there).
"""

import time

import pytest

from support.stack import all_started, wait_for_receipts
from support.topology import wait_until_landed

LEAVES = ("vitals-leaf-1", "vitals-leaf-2")


# The syndic's master listens on another loopback address than the master of masters: the
# syndic process keeps one authenticated session per master address, and two masters on
# 127.0.0.1 make it decrypt the top master's publications with its own master's key.
SYNDIC_MASTER_ADDRESS = "127.0.0.2"
# Salt 3008.3's syndic over ZeroMQ publishes fine but its synchronous requests up to the top
# master (events, the returns it forwards) time out, after which _return_pub_syndic fails on
# every call ('str' object has no attribute 'done'): no receipt ever reaches the top master.
# Over the TCP transport the same topology works, so every daemon here uses it.
TRANSPORT = "tcp"


@pytest.fixture(scope="module")
def master_of_masters(salt_factories):
    overrides = {
        "interface": "127.0.0.1",
        "order_masters": True,
        "auto_accept": True,
        "keep_jobs_seconds": 3600,
        "transport": TRANSPORT,
    }
    factory = salt_factories.salt_master_daemon("vitals-mom", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def syndic(master_of_masters):
    mom = master_of_masters.config
    factory = master_of_masters.salt_syndic_daemon(
        "vitals-syndic",
        defaults={
            "interface": SYNDIC_MASTER_ADDRESS,
            "publish_port": mom["publish_port"],
            "transport": TRANSPORT,
        },
        master_defaults={"transport": TRANSPORT},
        minion_defaults={"transport": TRANSPORT},
        master_overrides={
            "interface": SYNDIC_MASTER_ADDRESS,
            "auto_accept": True,
            "syndic_master": mom["interface"],
            "syndic_master_port": mom["ret_port"],
        },
        minion_overrides={"master": SYNDIC_MASTER_ADDRESS, "publish_port": mom["publish_port"]},
    )
    factory.after_terminate(factory.minion.terminate)
    factory.after_terminate(factory.master.terminate)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def leaves(syndic, relays):
    carbon = {"hosts": [f"{r.host}:{r.line_port}" for r in relays], "timeout": 2}
    overrides = {
        "master": f"{SYNDIC_MASTER_ADDRESS}:{syndic.master.config['ret_port']}",
        "carbon": carbon,
        "vitals": {"sample_interval": 0.3},
        "transport": TRANSPORT,
    }
    factories = [syndic.master.salt_minion_daemon(mid, overrides=overrides) for mid in LEAVES]
    with all_started(factories):
        yield factories


@pytest.fixture(scope="module")
def mom_run(master_of_masters, syndic, leaves):
    return master_of_masters.salt_run_cli(timeout=90)


@pytest.fixture(scope="module")
def cycle(mom_run, syndic, leaves):
    """One pollpush published on the top master; the receipts found there."""
    # The syndic forwards the publication once its master knows the leaves: wait for that.
    syndic_cli = syndic.master.salt_cli(timeout=60)
    for leaf in LEAVES:
        assert syndic_cli.run("test.ping", minion_tgt=leaf).data is True, leaf
    ret = mom_run.run("vitals.pollpush", "tgt=vitals-leaf-*")
    assert ret.returncode == 0, ret
    jid = ret.data["jid"]
    assert jid, ret.data
    return jid, wait_for_receipts(mom_run, jid, len(LEAVES), timeout=90)


def test_pollpush_on_the_top_master_reaches_every_minion_behind_the_syndic(cycle):
    _jid, receipts = cycle
    assert sorted(receipts) == sorted(LEAVES)
    for leaf, receipt in receipts.items():
        assert receipt["carbon"] == "sent", (leaf, receipt)
        assert receipt["points"] > 20, (leaf, receipt)
        assert abs(receipt["ts"] - time.time()) < 300


def test_every_point_of_the_cycle_lands_in_a_cache(cycle, caches):
    _jid, receipts = cycle
    for leaf, receipt in receipts.items():
        prefix = f"vitals.{leaf.replace('.', '_')}."
        deadline = time.monotonic() + 60
        while True:
            paths = {m for cache in caches for m in cache.metrics() if m.startswith(prefix)}
            if len(paths) >= receipt["points"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(paths) == receipt["points"], (leaf, len(paths), receipt)
        landed = wait_until_landed(caches, paths, receipt["ts"])
        assert all(len(where) == 1 for where in landed.values())


def test_the_receipt_is_what_the_top_master_stores(cycle, master_of_masters, mom_run):
    jid, receipts = cycle
    job = mom_run.run("jobs.list_job", jid).data
    assert job["Function"] == "vitals.push"
    assert sorted(job["Result"]) == sorted(LEAVES)
    for leaf in LEAVES:
        assert job["Result"][leaf]["return"] == receipts[leaf]
