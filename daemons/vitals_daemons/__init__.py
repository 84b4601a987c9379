"""Real daemons on loopback, started and stopped by salt-vitals' demo, tests and benches.

One copy of the launchers for ``scripts/demo.py``, ``tests/`` and ``bench/``: nothing here
depends on pytest, nothing else in the repository starts these daemons, and none of it ships
in the salt-vitals wheel (``daemons/pyproject.toml`` installs it into the development venv).

Every daemon listens on ``127.0.0.1`` on free ports, keeps all of its state (configuration,
data, log) under the directory it is given, and is stopped together with its whole process
group -- also when start-up fails.  Use them as context managers (or call ``start()`` /
``stop()``)::

    with CarbonCache(tmp_path / "carbon") as carbon:
        ...  # send to carbon.line_port, read back with carbon.fetch()

One module per daemon family:

* :mod:`~vitals_daemons.process` -- free ports, waiting (:func:`poll`), the lifecycle every
  launcher shares, :func:`stop_all` (several at once, one grace period, strays included);
* :mod:`~vitals_daemons.carbon` -- ``CarbonCache``, ``carbon-cache.py`` from PyPI ``carbon``;
  :mod:`~vitals_daemons.whisper_files` reads the whisper files it (or any carbon) writes;
* :mod:`~vitals_daemons.influxdb` -- ``InfluxD``, InfluxDB 1.x, optionally with auth or TLS;
* :mod:`~vitals_daemons.victoria_metrics` -- ``VictoriaMetrics``, single node;
* :mod:`~vitals_daemons.carbon_c_relay` -- ``CarbonCRelay`` in front of carbon-caches;
* :mod:`~vitals_daemons.graphite_web` -- ``GraphiteWeb`` under gunicorn, reading a carbon-cache;
* :mod:`~vitals_daemons.salt` -- ``SaltMaster``, ``SaltMinion`` from this venv (the demo's and
  the benches'; the tests use pytest-salt-factories).

Misbehaving servers for the fault tests live in ``tests/support/faults.py``.

A missing executable raises :class:`~vitals_daemons.process.BackendUnavailable` from the
constructor, so fixtures can turn it into ``pytest.skip(str(exc))``.
"""
