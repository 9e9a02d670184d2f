"""The docs site: a tutorial that fails stops the build, and the build names it."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _site_copy(tmp_path, broken=False):
    """A copy of docs/ and a tutorials folder of one fine tutorial (and a broken one); (docs, tutorials)."""
    pytest.importorskip("sphinx_gallery", reason="the docs extra is installed by the README's test command")
    tutorials = tmp_path / "tutorials"
    tutorials.mkdir()
    shutil.copy(os.path.join(ROOT, "tutorials", "GALLERY_HEADER.rst"), tutorials)
    (tutorials / "01_fine.py").write_text('"""\nFine\n====\n\nRuns.\n"""\nprint("fine")\n')
    if broken:
        (tutorials / "02_broken.py").write_text('"""\nBroken\n======\n\nStops.\n"""\nraise RuntimeError("stale API")\n')
    docs = tmp_path / "docs"
    shutil.copytree(os.path.join(ROOT, "docs"), docs, ignore=shutil.ignore_patterns("_build", "_generated", "tutorials"))
    return docs, tutorials


def test_a_failing_tutorial_stops_the_docs_build_and_is_named(tmp_path):
    docs, tutorials = _site_copy(tmp_path, broken=True)
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
                             str(docs), str(tmp_path / "html")], capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, GLUON_TRICKS_TUTORIALS=str(tutorials)))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "02_broken.py" in output and "stale API" in output, output[-2000:]


def _tree(root):
    """{relative path: bytes} of a docs source tree, without what the build generates (ignored by git)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("_generated", "tutorials", "_build")]
        for name in files:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out


def test_building_the_site_writes_nothing_into_its_sources_and_draws_the_results(tmp_path):
    docs, tutorials = _site_copy(tmp_path)
    before = _tree(docs)
    html = tmp_path / "html"
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(docs), str(html)],
                            capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, GLUON_TRICKS_TUTORIALS=str(tutorials)))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert _tree(docs) == before  # no tracked file rewritten (a timing page once was, on every build)
    for page in ("time_to_accuracy", "models", "speed", "precision", "input_pipeline", "ablations", "zero_gamma"):
        assert (html / "results" / (page + ".html")).is_file(), page
    images = {p.name for p in (html / "_images").iterdir()}
    assert {"time_to_accuracy.png", "tricks_per_seed.png", "speed_per_cpu.png", "accuracy_by_epochs.png"} <= images
    assert (html / "searchindex.js").is_file()
