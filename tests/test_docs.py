"""The docs site: a tutorial that fails stops the build, and the build names it."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_failing_tutorial_stops_the_docs_build_and_is_named(tmp_path):
    pytest.importorskip("sphinx_gallery", reason="the docs extra is installed by the README's test command")
    tutorials = tmp_path / "tutorials"
    tutorials.mkdir()
    shutil.copy(os.path.join(ROOT, "tutorials", "GALLERY_HEADER.rst"), tutorials)
    (tutorials / "01_fine.py").write_text('"""\nFine\n====\n\nRuns.\n"""\nprint("fine")\n')
    (tutorials / "02_broken.py").write_text('"""\nBroken\n======\n\nStops.\n"""\nraise RuntimeError("stale API")\n')
    docs = tmp_path / "docs"
    shutil.copytree(os.path.join(ROOT, "docs"), docs, ignore=shutil.ignore_patterns("_build", "_generated", "tutorials"))
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
                             str(docs), str(tmp_path / "html")], capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, GLUON_TRICKS_TUTORIALS=str(tutorials)))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "02_broken.py" in output and "stale API" in output, output[-2000:]
