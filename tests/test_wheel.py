"""The wheel built from this repository holds every model it publishes: installed without -e and
used from outside the checkout, with no network, each loads (sha1-checked) and gt-zoo lists it."""
import hashlib
import json
import os
import subprocess
import sys
import zipfile

import pytest

from gluon_tricks import zoo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = [e for e in zoo.entries() if e.source != "gluoncv"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), ROOT], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    [path] = [out / f for f in os.listdir(out) if f.endswith(".whl")]
    return path


def test_the_wheel_holds_every_published_model_with_its_sha1(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "gluon_tricks/zoo/manifest.json" in names
        for e in OURS:
            member = "gluon_tricks/zoo/published/%s.params" % e.name
            assert member in names, member
            assert hashlib.sha1(z.read(member)).hexdigest() == e.sha1


def test_an_installed_wheel_loads_every_published_model_offline_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                              "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), GLUON_TRICKS_OFFLINE="1", MXNET_HOME=str(tmp_path / "empty"),
               MXNET_GLUON_REPO="http://127.0.0.1:9/")  # nothing cached, no mirror to reach
    code = ("import json, gluon_tricks\n"
            "from gluon_tricks import get_model, zoo\n"
            "ours = [e for e in zoo.entries() if e.source != 'gluoncv']\n"
            "for e in ours:\n"
            "    net = get_model(e.name, pretrained=True)\n"
            "    assert net.classes == list(e.inputs.class_names)\n"
            "print(json.dumps({'package': gluon_tricks.__file__, 'weights': [e.bundled for e in ours]}))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["package"].startswith(str(target))  # the installed copy, not the checkout
    assert all(w.startswith(str(target / "gluon_tricks" / "zoo" / "published")) for w in report["weights"])
    listing = subprocess.run([str(target / "bin" / "gt-zoo"), "list", "fashion_mnist_*", "--json"], cwd=elsewhere,
                             env=env, capture_output=True, text=True, timeout=300)
    assert listing.returncode == 0, listing.stderr[-3000:]
    where = {r["name"]: r["where"] for r in map(json.loads, listing.stdout.splitlines())}
    assert where == {e.name: "installed" for e in OURS}
