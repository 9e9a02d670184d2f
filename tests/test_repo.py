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
