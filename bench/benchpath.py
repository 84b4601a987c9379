"""``ROOT``, the checkout, and the tests' shared helpers (``tests/support``: fault servers, a
Salt loader for one module, test data) for the benches that use them: imported first, it puts
``tests/`` on ``sys.path`` as pytest's ``pythonpath`` does for the tests.

The rest comes from ``.venv``, which ``scripts/test.sh`` or ``scripts/demo.sh`` builds:
``salt_ext`` as users install it (the checkout itself is never on ``sys.path``: benches measure
the installed wheel) and the daemon launchers ``vitals_daemons`` (``daemons/``)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
