"""salt-vitals: node vitals from a Salt fleet into Graphite and InfluxDB.

Salt finds ``modules/``, ``runners/`` and ``returners/`` inside this package through the
``salt.loader`` entry point. Everything those loader modules share lives in
:mod:`salt_ext.core`, plain Python with no Salt dunders.
"""

__version__ = "0.1.0"
