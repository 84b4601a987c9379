"""InfluxDB, both directions: line protocol, InfluxQL, the returner's backend, the read-back reader
and the admin (databases, retention policies, users)."""
