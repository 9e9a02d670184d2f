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
    assert "scripts/train_cifar.py --dataset fashion-mnist" in train
    assert "pytest" in test
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert test in ci.splitlines()
    assert os.access(os.path.join(ROOT, ".ci", "run"), os.X_OK)


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


def test_the_shipped_fashion_mnist_model_is_what_its_metrics_say():
    import hashlib
    import json

    import pytest
    from conftest import HAVE_DATA, NO_DATA
    if not HAVE_DATA:
        pytest.skip(NO_DATA)
    import mxnet as mx
    from gluon_tricks.data import build_test_loader
    from gluon_tricks.inference import Predictor
    from gluon_tricks.train import Recipe, accuracy_report

    folder = os.path.join(ROOT, "model_zoo", "fashion_mnist_resnet20_v1b")
    metrics = json.load(open(os.path.join(folder, "metrics.json")))
    weights = os.path.join(folder, metrics["weights"])
    assert hashlib.sha1(open(weights, "rb").read()).hexdigest() == metrics["sha1"]
    recipe = Recipe.load(os.path.join(folder, "recipe.json"))
    assert recipe == Recipe(dataset="fashion-mnist", save_dir=recipe.save_dir)  # the default recipe, as shipped
    predictor = Predictor.from_model(recipe.model, weights, os.path.join(folder, "classes.json"), recipe=recipe)
    loader = build_test_loader(Recipe(dataset="fashion-mnist", batch_size=250, test_samples=1000))
    top1 = accuracy_report(predictor.net, loader, [mx.cpu()])["top1"]
    assert top1 == pytest.approx(metrics["top1_first_1000_test_images"], abs=0.002)
    assert predictor.classes[9] == "Ankle boot"
