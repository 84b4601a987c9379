"""Transport building blocks: name resolution with a deadline, TCP and HTTP with timeouts, URLs."""
