"""Functional tests: our modules, returners and SLS through Salt's real loader and state system
(no daemon). ``sls/`` mirrors the bundled SLS tree (``states/``) as tests/unit does the code;
every folder is a package, as in tests/unit, so test files may share a name across layers."""
