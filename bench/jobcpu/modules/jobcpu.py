"""A bench-only execution module (``bench/push_cpu.py`` puts ``bench/jobcpu`` in the minion's
``module_dirs``): the CPU a forked job spends calling one function, measured inside the job.

``jobcpu.run fun=vitals.push returners=carbon`` loads ``fun``'s module in this job as Salt
would (lazily, in the forked process) and calls it; the machinery every job shares (fork,
payload decoding, returning to the master) is left out, so the difference between two
functions is what their modules cost.
"""

import time


def run(fun, **kwargs):
    """
    CPU milliseconds of loading ``fun``'s module and calling it once in this job.

    CLI Example:

    .. code-block:: bash

        salt bench-01 jobcpu.run fun=test.ping
    """
    kwargs = {key: value for key, value in kwargs.items() if not key.startswith("__")}
    start = time.process_time()
    __salt__[fun](**kwargs)
    return (time.process_time() - start) * 1e3
