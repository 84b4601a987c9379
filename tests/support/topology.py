"""Reading points back from several carbon-caches (the relay and syndic tests)."""

import time


def holders(caches, path, ts):
    """The caches whose whisper file of ``path`` holds a point at second ``ts``."""
    return [cache for cache in caches if cache.fetch(path, from_ts=int(ts), until_ts=int(ts))]


def wait_until_landed(caches, paths, ts, timeout=60.0):
    """Wait until every path in ``paths`` has its point at ``ts`` in some cache.

    Returns ``{path: [caches holding it]}``; raises AssertionError naming what is missing.
    """
    deadline = time.monotonic() + timeout
    pending = set(paths)
    landed = {}
    while True:
        for path in sorted(pending):
            found = holders(caches, path, ts)
            if found:
                landed[path] = found
        pending -= set(landed)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    assert not pending, f"{len(pending)} of {len(landed) + len(pending)} points missing: " + (
        ", ".join(sorted(pending)[:10])
    )
    # a second look: a point landing twice would only show after the first cache answered
    time.sleep(1.0)
    return {path: holders(caches, path, ts) for path in landed}
