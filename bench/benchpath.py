"""Imported first by every bench: puts ``tests/`` (shared test data) and ``scripts/`` (daemon
launchers) on ``sys.path``. The checkout itself is not: benches measure the installed package,
as users get it (``scripts/test.sh`` or ``scripts/demo.sh`` installs the wheel into ``.venv``)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "scripts")]
