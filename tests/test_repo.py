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
