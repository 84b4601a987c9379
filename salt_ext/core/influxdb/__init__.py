"""InfluxDB, both directions, over one connection: ``client`` (the options every namespace
shares, auth, TLS, HTTP), ``line_protocol`` and ``influxql`` (the two languages), ``write`` (the
returner's backend), ``read`` (the read-back reader), ``admin`` and ``plans`` (databases,
retention policies, users and grants for the ``vitals_influxdb`` modules)."""
