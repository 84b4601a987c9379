"""Plain-Python core shared by the loader modules (no Salt dunders in here), in folders that
follow the data:

- :mod:`~salt_ext.core.collect`: psutil, ``/proc`` and ``/sys`` -> one snapshot -> rates ->
  samples (``vitals.current``);
- :mod:`~salt_ext.core.graphite`, :mod:`~salt_ext.core.influxdb`: one backend each, both
  directions: wire format, the returner's backend, the read-back reader (and InfluxDB's admin);
- :mod:`~salt_ext.core.delivery`: what every returner does (options, timeouts, failover) and
  the spool; :mod:`~salt_ext.core.net`: name resolution, TCP, HTTP;
- :mod:`~salt_ext.core.jobs`: ``vitals.push`` (receipt) and ``vitals.pollpush`` (publication);
- :mod:`~salt_ext.core.beacon`: the beacon's rules and its push-mode delivery worker;
- :mod:`~salt_ext.core.readback`: ``vitals.top``, ``vitals.history``, ``vitals.least_loaded``;
- :mod:`~salt_ext.core.config`, :mod:`~salt_ext.core.errors`, :mod:`~salt_ext.core.samples`:
  the option parser, the exceptions and the data model every folder shares.

Imports point down only: beacon > jobs > graphite, influxdb > readback, delivery > collect,
net > config, errors, samples (``importlinter`` checks it, see ``.importlinter``). Two modules
import Salt, each for one helper, so that options and grains are read exactly as Salt reads
them: :mod:`~salt_ext.core.delivery.returner` (``salt.returners.get_returner_options``) and
:mod:`~salt_ext.core.influxdb.write` (``salt.utils.data.traverse_dict_and_list`` for
``grain_tags``).
"""
