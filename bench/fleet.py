"""A real Salt fleet for the scale benches: one salt-master, N salt-minions, a carbon-cache and
an influxd, all on loopback under one directory, started and stopped by the bench.

Not a bench itself: ``pollpush_scale.py``, ``push_cpu.py`` and ``soak.py`` import it. Minions
are ``bench-NN``; they return to both backends (database ``vitals``).
Counting reads the backends back: whisper files for carbon, InfluxQL for influxd.
"""

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import benchpath
import psutil

from vitals_daemons.carbon import CarbonCache
from vitals_daemons.influxdb import InfluxD
from vitals_daemons.process import poll, stop_all
from vitals_daemons.salt import SaltMaster, SaltMinion
from vitals_daemons.whisper_files import read_tree

INFLUX_DB = "vitals"


class Fleet(contextlib.AbstractContextManager):
    """``with Fleet(20) as fleet:`` -- everything started, every minion answering."""

    def __init__(self, minions, root=None, minion_config=None):
        self.ids = [f"bench-{i:02d}" for i in range(1, minions + 1)]
        base = root or os.path.join(benchpath.ROOT, ".tmp")
        os.makedirs(base, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="fleet-", dir=base))
        self.carbon = CarbonCache(self.root / "carbon")
        self.influxd = InfluxD(self.root / "influxd")
        self.master = SaltMaster(
            self.root / "master",
            {"keep_jobs_seconds": 3600, "worker_threads": 4, "user": _user()},
        )
        self.minion_config = minion_config or {}
        self.minions = []
        self._client = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.carbon.start()
            self.influxd.start()
            self.influxd.query(f"CREATE DATABASE {INFLUX_DB}")
            self.master.start()
            config = {
                "user": _user(),
                "carbon": {"host": "127.0.0.1", "port": self.carbon.line_port, "timeout": 2},
                "influxdb": {"url": self.influxd.url, "db": INFLUX_DB, "timeout": 2},
                **self.minion_config,
            }
            self.minions = [
                SaltMinion(self.root / mid, self.master, mid, config) for mid in self.ids
            ]
            for minion in self.minions:
                minion.start()
            self.wait_for_minions()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self._client is not None:
            self._client.destroy()
            self._client = None
        stop_all(self.minions, grace=12)
        stop_all([self.master, self.influxd, self.carbon], grace=10)

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)

    # -- Salt --------------------------------------------------------------------------------

    @property
    def master_opts(self):
        import salt.config

        return salt.config.client_config(str(self.master.root / "master"))

    @property
    def client(self):
        if self._client is None:
            import salt.client

            self._client = salt.client.LocalClient(mopts=self.master_opts)
        return self._client

    def wait_for_minions(self, timeout=180):
        from salt.exceptions import SaltClientError

        def probe():
            try:
                found = self.client.cmd("bench-*", "test.ping", timeout=5)
            except SaltClientError:  # the master's request server is still starting
                return False
            return set(found) >= set(self.ids)

        poll(probe, timeout, f"{len(self.ids)} minions to answer test.ping", interval=1)

    def pollpush(self, **kwargs):
        """``salt-run vitals.pollpush`` in this process (the runner from the installed wheel);
        returns its jid."""
        import salt.runner

        runner = salt.runner.RunnerClient(self.master_opts)
        kwargs.setdefault("tgt", "bench-*")
        try:
            ret = runner.cmd("vitals.pollpush", kwarg=kwargs, print_event=False)
        finally:
            # Salt 3008.3 still logs "unclosed MasterMinion" for each call: its
            # MasterMinion.__del__ takes loaders set to {} by destroy() for open ones.
            runner.destroy()
        if not ret.get("jid"):
            raise RuntimeError(f"pollpush published nothing: {ret}")
        return ret["jid"]

    def receipts(self, jid):
        """``{minion: receipt}`` of the minions that have returned for ``jid`` so far."""
        found = self.client.get_cache_returns(jid)
        return {mid: data.get("ret") for mid, data in found.items()}

    def wait_for_receipts(self, jid, timeout=120):
        def probe():
            found = self.receipts(jid)
            return found if len(found) >= len(self.ids) else None

        return poll(probe, timeout, f"receipts of {jid}", interval=0.05)

    @contextlib.contextmanager
    def minions_stopped(self):
        """Every minion process SIGSTOPped inside the block, SIGCONTed after it: a publication
        made meanwhile waits in the sockets, and no minion job competes for the CPU."""
        procs = self.minion_processes()
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.suspend()
        try:
            yield
        finally:
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.resume()

    @contextlib.contextmanager
    def master_on_own_core(self):
        """Inside the block the master, its children and this process run on core 0, the
        minions (so the jobs they fork), carbon-cache and influxd on the other cores: the
        master host apart from the nodes and the backends, as on a real fleet, instead of 20
        job processes sharing the master's cores. Affinities are restored after it."""
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            raise RuntimeError("needs at least 2 cores")
        master_side = [psutil.Process(), *_tree(self.master.pid)]
        rest = [p for d in (*self.minions, self.carbon, self.influxd) for p in _tree(d.pid)]
        before = {}
        for procs, affinity in ((master_side, cores[:1]), (rest, cores[1:])):
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    before[proc] = proc.cpu_affinity()
                    proc.cpu_affinity(affinity)
        try:
            yield
        finally:
            for proc, affinity in before.items():
                with contextlib.suppress(psutil.Error):
                    proc.cpu_affinity(affinity)

    def minion_processes(self):
        """The live process tree of every minion."""
        return [p for minion in self.minions for p in _tree(minion.pid)]

    # -- the backends -----------------------------------------------------------------------

    def carbon_points(self, minion, ts):
        """Metrics of ``minion`` holding a point at second ``ts`` in whisper."""
        return sum(bool(points) for points in self._whisper(minion, ts, ts))

    def influx_points(self, ts_from, ts_to=None):
        """``{host: field values}`` stored in influxd with ``ts_from <= time <= ts_to``."""
        ts_to = ts_from if ts_to is None else ts_to
        q = f"SELECT * FROM /.*/ WHERE time >= {int(ts_from)}s AND time <= {int(ts_to)}s GROUP BY *"
        counts = {}
        for series in self.influxd.query(q, db=INFLUX_DB)["results"][0].get("series", []):
            host = series.get("tags", {}).get("host")
            columns = series["columns"]
            for row in series["values"]:
                values = sum(v is not None for c, v in zip(columns, row) if c != "time")
                counts[host] = counts.get(host, 0) + values
        return counts

    def carbon_points_between(self, minion, ts_from, ts_to):
        """Points of ``minion`` in whisper with ``ts_from <= time <= ts_to``."""
        return sum(len(points) for points in self._whisper(minion, ts_from, ts_to))

    def _whisper(self, minion, ts_from, ts_to):
        """The points of every whisper file of ``minion`` in ``[ts_from, ts_to]``, one list per
        file (a file being created holds none yet)."""
        top = self.carbon.whisper_dir / "vitals" / minion.replace(".", "_")
        return read_tree(top, ts_from, ts_to).values()

    def spooled(self):
        """Spool record files left on every minion."""
        return sorted(str(p) for p in self.root.glob("bench-*/cache/vitals/spool/*/*.rec"))


def _tree(pid):
    """The live process ``pid`` and its descendants (empty if it is gone)."""
    try:
        main = psutil.Process(pid)
        return [main, *main.children(recursive=True)]
    except psutil.Error:
        return []


def _user():
    import getpass

    return getpass.getuser()


def wait_landed(fleet, receipts, timeout=30):
    """Seconds until every point of ``receipts`` is in whisper and in influxd."""
    start = time.monotonic()

    def landed():
        ts = {m: r["ts"] for m, r in receipts.items()}
        influx = fleet.influx_points(min(ts.values()), max(ts.values()))
        for minion, receipt in receipts.items():
            if influx.get(minion, 0) < receipt["points"]:
                return False
            if fleet.carbon_points(minion, ts[minion]) < receipt["points"]:
                return False
        return True

    poll(landed, timeout, "every point in carbon and influxd", interval=0.05)
    return time.monotonic() - start
