"""Sphinx configuration. Build with: pip install -e ".[cpu,docs]" && sphinx-build -b html docs docs/_build"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "gluon_tricks"
author = "gluon_tricks developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
exclude_patterns = ["_build"]
html_theme = "alabaster"
