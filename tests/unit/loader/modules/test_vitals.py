"""The vitals execution module (salt_ext/modules/vitals.py): what Salt shows of its functions
(the job returns and receipt of push: tests/unit/jobs/test_push.py)."""

import salt.utils.args

from salt_ext.modules import vitals as vitals_module


def test_push_has_a_cli_example_and_its_arguments():
    spec = salt.utils.args.get_function_argspec(vitals_module.push)
    assert spec.args == ["returners", "samples", "interval", "ret_config", "ret_kwargs"]
    assert "CLI Example:" in vitals_module.push.__doc__
