"""The README is a promise: CI runs its test command, and its commands name real things."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readme_commands():
    text = open(os.path.join(ROOT, "README.md")).read()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    train, test = _readme_commands()
    assert "scripts/train_cifar.py --recipe model_zoo/fashion_mnist_fastest.yaml" in train
    assert "pytest" in test
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert test in ci.splitlines()
    assert os.access(os.path.join(ROOT, ".ci", "run"), os.X_OK)


def test_every_file_the_readme_links_to_exists():
    text = open(os.path.join(ROOT, "README.md")).read()
    links = [t for t in re.findall(r"\]\(([^)#]+)\)", text) if not t.startswith("http")]
    assert len(links) >= 10
    missing = [t for t in links if not os.path.exists(os.path.join(ROOT, t))]
    assert not missing, missing


def test_model_zoo_recipes_load_and_the_default_one_matches_the_code():
    import glob

    from gluon_tricks.models import model_settings
    from gluon_tricks.train import Recipe

    files = glob.glob(os.path.join(ROOT, "model_zoo", "*.yaml"))
    assert files
    for path in files:
        recipe = Recipe.load(path).validate()
        model_settings(recipe.model)
    assert Recipe.load(os.path.join(ROOT, "model_zoo", "fashion_mnist_resnet20_v1b.yaml")) == Recipe()


def test_every_shipped_model_loads_offline_with_its_sha1_and_its_recorded_accuracy(monkeypatch):
    import hashlib
    import json

    import pytest
    from conftest import HAVE_DATA, NO_DATA
    if not HAVE_DATA:
        pytest.skip(NO_DATA)
    import mxnet as mx
    from gluon_tricks import get_model, zoo
    from gluon_tricks.data import build_test_loader
    from gluon_tricks.train import Recipe, accuracy_report

    monkeypatch.setenv("GLUON_TRICKS_OFFLINE", "1")  # shipped means no network at all
    shipped = [e for e in zoo.entries() if e.source != "gluoncv"]
    assert "fashion_mnist_resnet20_v1b" in [e.name for e in shipped]
    for e in shipped:
        assert hashlib.sha1(open(e.bundled, "rb").read()).hexdigest() == e.sha1
        metrics = json.load(open(os.path.join(ROOT, e.metrics)))
        assert metrics["sha1"] == e.sha1 and round(100 * metrics["top1"], 2) == e.top1
        net = get_model(e.name, pretrained=e.tag)
        net.hybridize()
        loader = build_test_loader(Recipe(dataset=e.inputs.dataset, batch_size=250, test_samples=1000))
        assert 100 * accuracy_report(net, loader, [mx.cpu()])["top1"] == pytest.approx(e.slice_top1, abs=0.2)
        recipe = Recipe.load(os.path.join(ROOT, e.recipe))
        assert recipe.model == e.architecture and recipe.dataset == e.inputs.dataset


def test_evaluate_reproduces_the_published_accuracy_of_the_default_model(capsys):
    import pytest
    from conftest import HAVE_DATA, NO_DATA
    if not HAVE_DATA:
        pytest.skip(NO_DATA)
    from gluon_tricks import zoo
    from gluon_tricks.cli import evaluate
    report = evaluate.main(["--model", "fashion_mnist_resnet20_v1b", "--use-pretrained", "--dataset", "fashion-mnist",
                            "--batch-size", "500"])
    e = zoo.entry("fashion_mnist_resnet20_v1b")
    assert report["images"] == 10000 and round(100 * report["top1"], 2) == e.top1 and \
        round(100 * report["top5"], 2) == e.top5
    assert "top-1 0.9419" in capsys.readouterr().out


# What a text must not say: when or in which work session something was made (git and the issues keep that).
HISTORY = re.compile(r"\b(?:sessions? \d+|issues? #?\d+|(?:this|last|earlier|previous) session|old name|"
                     r"20\d\d-[01]\d-[0-3]\d|since then|now [a-z]+s|before\b(?:[^.]|\.\d){0,100}?\bnow(?! and then))\b", re.IGNORECASE)
USER_TEXTS = ["README.md", "model_zoo/README.md", "gluon_tricks/zoo/manifest.json"]
USER_GLOBS = ["docs/*.rst", "docs/results/*.rst", "tutorials/*.py", "model_zoo/*.yaml"]


def _history_in(label, text):
    return ["%s: %r" % (label, m.group(0)) for m in HISTORY.finditer(text)]


def test_texts_say_what_a_thing_is_not_when_it_was_made():
    import ast
    import glob
    import importlib
    import pkgutil

    import gluon_tricks
    found = []
    paths = USER_TEXTS + [os.path.relpath(p, ROOT) for g in USER_GLOBS for p in glob.glob(os.path.join(ROOT, g))]
    assert len(paths) > 25
    for path in paths:
        found += _history_in(path, open(os.path.join(ROOT, path)).read())
    package = os.path.dirname(gluon_tricks.__file__)
    for root, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                for node in ast.walk(ast.parse(open(path).read())):
                    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                        found += _history_in(os.path.relpath(path, ROOT), ast.get_docstring(node) or "")
    helps = 0
    for info in pkgutil.iter_modules(importlib.import_module("gluon_tricks.cli").__path__):
        module = importlib.import_module("gluon_tricks.cli." + info.name)
        if hasattr(module, "parser"):
            found += _history_in("gt-%s --help" % info.name, module.parser().format_help())
            helps += 1
    assert helps >= 9
    assert not found, "history in user-facing text:\n" + "\n".join(found)


def test_the_history_check_catches_what_it_looks_for():
    for text in ("measured in session 15", "Issue 16's recipe", "'dataloader' is its old name", "on 2026-11-29",
                 "since then it runs faster", "the loop now trains in bfloat16", "before: 2.1 min, now 1.9",
                 "Before the fix the kernel was slow; it is now fast", "before, int8 ran at 0.56x\nfloat32; now 2.0x"):
        assert _history_in("x", text), text
    assert not _history_in("x", "the 2026 paper; 15 sessions of 94% and issue tracking")
    assert not _history_in("x", "Now open the page. Before each step the lr is set; known runs")
    assert not _history_in("x", "it measures before it chooses.\nNow open the page")  # two sentences
    assert not _history_in("x", "nothing orders the pull before the push, so now and then a worker")
