"""Sphinx configuration: the Markdown pages (MyST) and the loader modules' docstrings.

Built by scripts/test.sh with ``-W`` (warnings are errors) into ``.tmp/docs``. autodoc imports
salt_ext from the installed wheel, as every test does.
"""

import salt_ext

project = "salt-vitals"
author = "salt-vitals developers"
copyright = "salt-vitals developers"
release = version = salt_ext.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
html_theme = "alabaster"
