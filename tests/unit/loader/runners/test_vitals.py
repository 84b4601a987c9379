"""The vitals runner loader module (salt_ext/runners/vitals.py): what Salt shows of its
functions (the publication pollpush makes: tests/unit/jobs/test_pollpush.py)."""

import salt.utils.args

from salt_ext.runners import vitals as vitals_runner


def test_argspec_shows_every_parameter():
    spec = salt.utils.args.get_function_argspec(vitals_runner.pollpush)
    assert spec.args == [
        "tgt",
        "tgt_type",
        "returners",
        "samples",
        "interval",
        "mode",
        "ret_config",
        "ret_kwargs",
        "timeout",
    ]
    assert spec.keywords == "collection"
