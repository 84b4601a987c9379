"""Unit tests: pure code, no daemon. The folders mirror the source tree:

- ``<subpackage>/test_<module>.py`` tests ``salt_ext/core/<subpackage>/<module>.py``, and
  ``test_<module>.py`` here a module at the root of ``salt_ext/core`` (``config``, ``errors``,
  ``samples``): this folder stands for ``salt_ext/core``, the bulk of the code;
- ``loader/<kind>/test_<module>.py`` tests the Salt loader glue ``salt_ext/<kind>/<module>.py``
  (``translate`` at ``loader/test_translate.py``);
- ``sls/`` the files of the bundled SLS tree (``states/``, shipped as ``salt_ext/sls``); the
  SLS rendered and applied by ``salt-call --local`` are functional tests (tests/functional/sls);
- ``scripts/`` the checkout's own scripts (``scripts/gen_docs.py``, ``scripts/setup-env.sh``).

A module with one aspect heavy enough for its own file adds it after the module's name
(``delivery/test_spool_concurrency.py``). Every folder is a package so that test files in two
folders may share a name (``loader/modules/test_vitals.py``, ``loader/runners/test_vitals.py``)
under ``--import-mode=prepend``.
"""
