"""Sphinx configuration. Build (and run every tutorial) with:
    pip install -e ".[cpu,docs]" && sphinx-build -W -b html docs docs/_build/html
then open docs/_build/html/index.html."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GLUON_TRICKS_OFFLINE", "1")  # tutorials use shipped models and local data only

project = "gluon_tricks"
author = "gluon_tricks developers"
copyright = "the gluon_tricks developers; Apache-2.0"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode", "sphinx_gallery.gen_gallery"]
autodoc_member_order = "bysource"
exclude_patterns = ["_build", "_generated"]
html_theme = "furo"  # maintained; wide code blocks scroll in place; search built in
html_title = "gluon_tricks"

# Tutorials: Python scripts in tutorials/ (runnable as they are), executed on every build on the
# CPU. A failing tutorial stops the build and is named. (GLUON_TRICKS_TUTORIALS points elsewhere:
# the test of that failure uses it.)
sphinx_gallery_conf = {
    "examples_dirs": os.environ.get("GLUON_TRICKS_TUTORIALS", os.path.join(ROOT, "tutorials")),
    "gallery_dirs": "tutorials",
    "filename_pattern": r"/\d\d_",
    "within_subsection_order": "FileNameSortKey",  # a string: Sphinx 7.3+ cannot pickle classes here
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "write_computation_times": False,  # its timing page would rewrite a tracked file on every build
}

# The model zoo page's tables come from the manifest, through the generator that writes
# model_zoo/README.md's.
os.makedirs(os.path.join(os.path.dirname(__file__), "_generated"), exist_ok=True)
from gluon_tricks.zoo import table  # noqa: E402

GENERATED = os.path.join(os.path.dirname(__file__), "_generated")
with open(os.path.join(GENERATED, "zoo_tables.rst"), "w") as f:
    f.write(table.rst())

# The results pages' figures and tables, drawn from the benchmark records (bench/results, bench/ablation)
# of the source checkout gluon_tricks is imported from.
import shutil  # noqa: E402

import gluon_tricks  # noqa: E402

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(gluon_tricks.__file__))), "bench")
sys.path.insert(0, BENCH)
import deployment  # noqa: E402
import figures  # noqa: E402

figures.draw_all(os.path.join(GENERATED, "figures"))
shutil.copyfile(os.path.join(BENCH, "ablation", "zero_gamma", "gammas.png"),
                os.path.join(GENERATED, "figures", "zero_gamma_gammas.png"))
with open(os.path.join(GENERATED, "deployment.rst"), "w") as f:
    f.write(deployment.rst_table())
