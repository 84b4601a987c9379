"""What every returner does, whatever the backend: options read the Salt way, timeouts and failover
over the transports, and the bounded spool."""
